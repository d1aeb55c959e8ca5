"""Benchmark: cache-hit checks over loopback gRPC, against the floor of a trivial Python gRPC server.

What it runs (all real processes, all on 127.0.0.1):

* the upstream emulator, with a generated catalog of ``--customers`` customers;
* the sidecar (``python -m stigg_sidecar``), its cache warmed with every customer;
* the floor: ``bench/echo_server.py``, a grpc.aio server with the same interface that answers
  from a dict, so the ratio sidecar/floor shows what the sidecar itself costs;
* the load generator: a Go program (tests/go/stiggclient/loadgen), so the client does not take
  Python CPU from the server it measures. Servers are pinned to core 0, the load generator to
  core 1: "per core" figures mean exactly one core of server;
* ghz (``bench/ghz_load.py``: built by ``go install`` on first use), the standard gRPC load
  generator, beside ours with the same call and pinning, so the figures compare with published
  gRPC benchmarks.

Measured, each ``--repeats`` times (median and range reported): closed-loop throughput and
latency at ``--concurrency`` calls in flight with the server's CPU seconds per call; open-loop
latency at a fixed ``--rate`` (2,000 checks/s, the target's load); the sidecar's resident
memory with the warmed cache; with ghz, the closed loop and a fixed ``--ghz-rates`` rate
(1,000/s), in the same rounds as ours at the same load. Writes ``bench/results/sidecar-checks.md``.

    python bench/sidecar_checks.py [--customers 2000] [--repeats 3] [--seconds 8]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import ghz_load  # noqa: E402
from stigg_devkit import childproc, sidecar_launcher  # noqa: E402
from stigg_emulator import catalog, launcher  # noqa: E402
from tests.integration.sidecar import go_client  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "sidecar-checks.md"
SERVER_CORE, CLIENT_CORE = 0, 1


def _cpu_seconds(pid: int) -> float:
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mib(pid: int) -> float:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _catalog(path: pathlib.Path, customers: int) -> None:
    document = yaml.safe_load(catalog.SAMPLE_PATH.read_text())
    document["customers"] = [
        {"id": f"customer-{i}", "plan": "plan-pro", "usage": {"feature-api-calls": i}}
        for i in range(customers)
    ]
    path.write_text(yaml.safe_dump(document))


def _load(loadgen: pathlib.Path, target: str, **options: object) -> dict[str, float]:
    # Pinned by taskset rather than a preexec_fn (which would fork with gRPC's handlers: childproc).
    argv = ["taskset", "-c", str(CLIENT_CORE), str(loadgen), "-target", target]
    argv += [f"-{k}={v}" for k, v in options.items()]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    completed = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=300)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    result: dict[str, float] = json.loads(completed.stdout)
    if result["errors"]:
        raise SystemExit(f"load generator saw {result['errors']} errors against {target}")
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    result["client_cpu_us_per_call"] = cpu / result["calls"] * 1e6
    return result


Rows = dict[str, list[dict[str, float]]]


def _measure_interleaved(
    targets: dict[str, tuple[str, int]], runs: dict[str, Callable[[str], dict[str, float]]], repeats: int
) -> dict[str, Rows]:
    """Each run (by load generator) against every target once per round, ``repeats`` rounds, so
    machine noise hits all alike; the rows by load generator, then by target."""
    rows: dict[str, Rows] = {generator: {name: [] for name in targets} for generator in runs}
    for attempt in range(repeats):
        for generator, run in runs.items():
            for name, (target, pid) in targets.items():
                cpu_before = _cpu_seconds(pid)
                result = run(target)
                result["cpu_us_per_call"] = (_cpu_seconds(pid) - cpu_before) / result["calls"] * 1e6
                rows[generator][name].append(result)
                shown = {k: round(v, 1) for k, v in result.items()}
                print(f"  round {attempt + 1}, {generator}, {name}: {json.dumps(shown)}", flush=True)
    return rows


def _summary(rows: list[dict[str, float]], key: str) -> tuple[float, float, float]:
    values = [row[key] for row in rows]
    return statistics.median(values), min(values), max(values)


def _cell(rows: list[dict[str, float]], key: str, digits: int = 0) -> str:
    median, low, high = _summary(rows, key)
    return f"{median:,.{digits}f} ({low:,.{digits}f}-{high:,.{digits}f})"


def _ghz_command(
    binary: str, target: str, data: str, args: argparse.Namespace, *, concurrency: int, rps: int = 0
) -> list[str]:
    return ghz_load.command(
        binary, target, data, core=CLIENT_CORE, concurrency=concurrency, seconds=args.seconds, rps=rps
    )


def _measure(
    loadgen: pathlib.Path,
    ghz: tuple[pathlib.Path, pathlib.Path],
    targets: dict[str, tuple[str, int]],
    args: argparse.Namespace,
) -> dict[str, dict[int, Rows]]:
    """The rows of ``ours`` and ``ghz`` (its binary and requests file) by rate, 0 for the closed loop
    at ``--concurrency`` (an open loop has at most 64 calls in flight); at a rate both run, they run
    in the same rounds."""

    def ours(rate: int) -> Callable[[str], dict[str, float]]:
        concurrency = 64 if rate else args.concurrency
        options = {"rate": rate} if rate else {}
        return lambda t: _load(
            loadgen,
            t,
            customers=args.customers,
            concurrency=concurrency,
            **options,
            duration=f"{args.seconds}s",
        )

    def theirs(rate: int) -> Callable[[str], dict[str, float]]:
        concurrency = 64 if rate else args.concurrency
        binary, data = (str(path) for path in ghz)
        return lambda t: ghz_load.run(
            _ghz_command(binary, t, data, args, concurrency=concurrency, rps=rate), ROOT
        )

    measured: dict[str, dict[int, Rows]] = {"ours": {}, "ghz": {}}
    for rate in [0, *sorted({*args.rates, *args.ghz_rates})]:
        runs = {"ours": ours(rate)} if rate == 0 or rate in args.rates else {}
        if rate == 0 or rate in args.ghz_rates:
            runs["ghz"] = theirs(rate)
        phase = f"open loop at {rate}/s" if rate else f"closed loop, {args.concurrency} in flight"
        print(f"{phase}: {' and '.join(runs)}", flush=True)
        for generator, rows in _measure_interleaved(targets, runs, args.repeats).items():
            measured[generator][rate] = rows
    return measured


def _ratios(rows: Rows) -> tuple[float, float]:
    """Sidecar / floor: throughput and p50 latency, of the medians."""
    floor, side = rows["floor (trivial grpc.aio)"], rows["sidecar"]
    return (
        _summary(side, "throughput")[0] / _summary(floor, "throughput")[0],
        _summary(side, "p50_us")[0] / _summary(floor, "p50_us")[0],
    )


def _busy(rows: list[dict[str, float]]) -> float:
    """The median share of its core the load generator used (checks/s times its CPU per call)."""
    return statistics.median(row["throughput"] * row["client_cpu_us_per_call"] / 1e6 for row in rows)


def _ghz_lines(args: argparse.Namespace, ours: Rows, closed: Rows, opened: dict[int, Rows]) -> list[str]:
    ghz_tp, ghz_p50 = _ratios(closed)
    ours_tp, ours_p50 = _ratios(ours)
    gobin = f"~/.cache/stigg-bench/ghz-{ghz_load.VERSION}"
    lines = [
        "## ghz, the standard gRPC load generator",
        "",
        f"[ghz](https://{ghz_load.MODULE}) {ghz_load.VERSION}, built by the benchmark with "
        f"`{ghz_load.install_command(gobin)}`, makes the same call over the same {args.customers} "
        f"cached customers (a JSON array of requests, sent round-robin) on one connection, pinned to "
        f"core {CLIENT_CORE} like ours. Client CPU is the load generator's own (user + system) per call.",
        "",
        f"### Closed loop, {args.concurrency} calls in flight: ghz and ours side by side",
        "",
        "| server | load generator | checks/s | p50 µs | p90 µs | p99 µs | server CPU µs/call | "
        "client CPU µs/call |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
        *(
            f"| {name} | {generator} | {_cell(rows, 'throughput')} | {_cell(rows, 'p50_us')} | "
            f"{_cell(rows, 'p90_us')} | {_cell(rows, 'p99_us')} | {_cell(rows, 'cpu_us_per_call')} | "
            f"{_cell(rows, 'client_cpu_us_per_call')} |"
            for name in ours
            for generator, rows in (("ghz", closed[name]), ("ours", ours[name]))
        ),
        "",
        f"Sidecar / floor with ghz: throughput {ghz_tp:.2f}x, p50 latency {ghz_p50:.2f}x "
        f"(with ours: {ours_tp:.2f}x and {ours_p50:.2f}x). The load generator's core was busy "
        + ", ".join(
            f"{_busy(closed[name]):.0%} (ghz) and {_busy(ours[name]):.0%} (ours) against the {name}"
            for name in ours
        )
        + ": the client, not the server, limits a figure only as that nears 100%.",
        "",
    ]
    for rate, by_server in opened.items():
        lines += [
            f"### ghz at a fixed rate of {rate:,}/s (`--rps`, at most 64 in flight)",
            "",
            "ghz times each call from when it was sent, not from when it was due: unlike ours above, "
            "its latency leaves out the queueing of a server that falls behind.",
            "",
            "| server | achieved checks/s | p50 µs | p90 µs | p99 µs | max µs | server CPU µs/call |",
            "| --- | --- | --- | --- | --- | --- | --- |",
            *(
                f"| {name} | {_cell(rows, 'throughput')} | {_cell(rows, 'p50_us')} | "
                f"{_cell(rows, 'p90_us')} | {_cell(rows, 'p99_us')} | {_cell(rows, 'max_us')} | "
                f"{_cell(rows, 'cpu_us_per_call')} |"
                for name, rows in by_server.items()
            ),
            "",
        ]
    example = json.dumps(ghz_load.requests(1))[:-1]
    lines += [
        "### The ghz command lines",
        "",
        f"From the repository's root, the servers pinned to core {SERVER_CORE} (`taskset -cp {SERVER_CORE} "
        f"PID`), `requests.json` the array `{example}, ...]` of customer-0 to "
        f"customer-{args.customers - 1} and `PORT` the server's:",
        "",
        "```sh",
        " ".join(_ghz_command("ghz", "127.0.0.1:PORT", "requests.json", args, concurrency=args.concurrency)),
        *(
            " ".join(_ghz_command("ghz", "127.0.0.1:PORT", "requests.json", args, concurrency=64, rps=r))
            for r in opened
        ),
        "```",
        "",
    ]
    return lines


def _warm(loadgen: pathlib.Path, sidecar: sidecar_launcher.RunningSidecar, customers: int) -> None:
    """Check every customer until all are cached: on a busy machine, 3 s of misses may not reach them all."""
    for _ in range(5):
        warm = _load(loadgen, sidecar.grpc_target, customers=customers, concurrency=4, duration="3s")
        if warm["fallbacks"]:
            raise SystemExit("the warm-up was answered from fallbacks: the sidecar cannot reach the emulator")
        if sidecar.metric("sidecar_cache_entries") >= customers:
            return
    raise SystemExit(f"the warm-up cached {sidecar.metric('sidecar_cache_entries'):.0f} customers only")


def _loadavg(values: tuple[float, float, float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--rates",
        type=lambda text: [int(r) for r in text.split(",")],
        default=[1000, 2000],
        help="open-loop rates",
    )
    parser.add_argument(
        "--ghz-rates",
        type=lambda text: [int(r) for r in text.split(",") if r],
        default=[1000],
        help="ghz's fixed rates (--rps); empty for none",
    )
    args = parser.parse_args()

    load_before = os.getloadavg()
    loadgen = go_client.ensure_built("loadgen")
    ghz = ghz_load.ensure_built()
    scratch = pathlib.Path(tempfile.mkdtemp(prefix="bench-sidecar-"))
    _catalog(scratch / "catalog.yaml", args.customers)
    ghz_data = scratch / "requests.json"
    ghz_data.write_text(json.dumps(ghz_load.requests(args.customers)))
    emulator = launcher.start(catalog_path=scratch / "catalog.yaml", latency_ms=0, api_key="bench-key")
    sidecar = sidecar_launcher.start(
        {
            "SERVER_API_KEY": "bench-key",
            "EDGE_API_URL": emulator.base_url,
            "API_URL": emulator.base_url,
            "WS_ENABLED": "false",
            "LOG_LEVEL": "error",
            "SIDECAR_CACHE_TTL_SECONDS": "3600",
        },
        scratch / "sidecar.log",
    )
    echo_port = childproc.free_port()
    with (scratch / "echo.log").open("ab") as echo_log:
        echo = subprocess.Popen(
            childproc.tied([sys.executable, str(ROOT / "bench" / "echo_server.py"), str(echo_port)]),
            stdout=echo_log,
            stderr=subprocess.STDOUT,
        )
    try:
        time.sleep(1.5)  # the echo server prints "ready" to its log within a second
        for pid in (sidecar.process.pid, echo.pid):
            os.sched_setaffinity(pid, {SERVER_CORE})
        print(f"warming the sidecar's cache with {args.customers} customers", flush=True)
        _warm(loadgen, sidecar, args.customers)
        rss = _rss_mib(sidecar.process.pid)
        cache_bytes = sidecar.metric("sidecar_cache_size_bytes")
        entries = sidecar.metric("sidecar_cache_entries")

        targets = {"floor (trivial grpc.aio)": (f"127.0.0.1:{echo_port}", echo.pid), "sidecar": (
            sidecar.grpc_target, sidecar.process.pid)}  # fmt: skip
        measured = _measure(loadgen, (ghz, ghz_data), targets, args)
        misses = sidecar.metric("sidecar_cache_misses_total")
    finally:
        childproc.stop(echo, 10)
        sidecar.stop()
        emulator.stop()

    closed, ghz_closed = measured["ours"].pop(0), measured["ghz"].pop(0)
    opened, ghz_opened = measured["ours"], measured["ghz"]
    ratio_tp, ratio_p50 = _ratios(closed)
    load_after = os.getloadavg()
    lines = [
        "# Sidecar: cache-hit checks over loopback gRPC",
        "",
        f"{platform.machine()}, {os.cpu_count()} cores (shared machine), Python {platform.python_version()}. "
        f"Servers pinned to core {SERVER_CORE}, the Go load generator to core {CLIENT_CORE}. "
        f"GetBooleanEntitlement over {args.customers} distinct customers, all cached "
        f"({int(entries)} cache entries; cache misses in all: {int(misses)}, i.e. the warm-up only). "
        f"{args.repeats} runs of {args.seconds} s each: median (min-max). Load average (1, 5, 15 min) "
        f"at the start {_loadavg(load_before)}, at the end {_loadavg(load_after)}.",
        "",
        f"## Closed loop, {args.concurrency} calls in flight (throughput on one server core)",
        "",
        "| server | checks/s | p50 µs | p99 µs | server CPU µs/call |",
        "| --- | --- | --- | --- | --- |",
        *(
            f"| {name} | {_cell(rows, 'throughput')} | {_cell(rows, 'p50_us')} | {_cell(rows, 'p99_us')} | "
            f"{_cell(rows, 'cpu_us_per_call')} |"
            for name, rows in closed.items()
        ),
        "",
        f"Sidecar / floor: throughput {ratio_tp:.2f}x (goal >= 0.8x), "
        f"p50 latency {ratio_p50:.2f}x (goal <= 1.2x).",
        "",
        "## Open loop at fixed rates (latency from the scheduled send time)",
        "",
        "| rate | server | achieved checks/s | p50 µs | p90 µs | p99 µs | max µs |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *(
            f"| {rate:,}/s | {name} | {_cell(rows, 'throughput')} | {_cell(rows, 'p50_us')} | "
            f"{_cell(rows, 'p90_us')} | {_cell(rows, 'p99_us')} | {_cell(rows, 'max_us')} |"
            for rate, by_server in opened.items()
            for name, rows in by_server.items()
        ),
        "",
        *_ghz_lines(args, closed, ghz_closed, ghz_opened),
        "## Memory",
        "",
        f"Sidecar resident set after warming {args.customers} customers: {rss:.1f} MiB "
        f"(in-process cache: {cache_bytes / 1024 / 1024:.2f} MiB accounted in {int(entries)} entries).",
        "",
        "Command: `make bench` (or `python bench/sidecar_checks.py`).",
        "",
    ]
    report = "\n".join(lines)
    RESULTS.write_text(report)
    print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
