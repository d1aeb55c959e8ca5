"""Benchmark: checks answered in-process by a mirrored client, against the same check over gRPC.

What it runs (real processes on 127.0.0.1): the upstream emulator with ``--customers``
generated customers, and a sidecar following its real-time stream, pinned to core 0. This
process is pinned to core 1 and holds a ``MirroredSidecarClient`` following every customer.

Measured, ``--repeats`` times each (median and range reported):

* **in-process checks**: ``--checks`` GetBooleanEntitlement calls round-robin over every
  customer, each timed with ``perf_counter_ns`` (p50, p90, p99, p99.9, max), then as many
  untimed back to back for the throughput on this one core (checks per second of the thread's
  CPU time, and per wall second); the same for a metered check with a requested usage (decided
  afresh each time, not from the replica's per-state decisions);
* **the same check over gRPC**: the plain blocking client, one call at a time;
* **propagation**: ``--changes`` times, usage is reported straight to the upstream (as another
  replica's sidecar would); the clock starts before the request and stops when the mirror's
  in-process answer first shows it (polled every 50 µs);
* **the sidecar's CPU per mirror client**: ``--followers`` streams (in a child process on core
  1, each following the same 100 customers) while usage is reported at ``--rate`` per second
  for ``--seconds``; the sidecar's CPU seconds over the window, against none following.

Writes ``bench/results/mirror-checks.md``.

    python bench/mirror_checks.py [--customers 2000] [--repeats 3] [--checks 200000]
        [--changes 200] [--followers 0,1,10,50] [--rate 200] [--seconds 8]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Sequence

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stigg_devkit import sidecar_launcher  # noqa: E402
from stigg_emulator import catalog, launcher  # noqa: E402
from stigg_sidecar import client  # noqa: E402
from stigg_sidecar.mirror import client as mirrored_client  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "mirror-checks.md"
API_KEY = "bench-key"
SIDECAR_CORE, CLIENT_CORE = 0, 1
FOLLOWED = 100  # customers each follower stream follows


def _cpu_seconds(pid: int) -> float:
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _catalog(path: pathlib.Path, customers: int) -> None:
    document = yaml.safe_load(catalog.SAMPLE_PATH.read_text())
    document["customers"] = [
        {"id": f"customer-{i}", "plan": "plan-pro", "usage": {"feature-api-calls": i}}
        for i in range(customers)
    ]
    path.write_text(yaml.safe_dump(document))


def _percentile(ordered: Sequence[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _timed(ask: Callable[[int], object], count: int) -> dict[str, float]:
    """Per-call latency (µs) of ``count`` calls, then the throughput of as many untimed."""
    clock = time.perf_counter_ns
    samples = []
    for i in range(count):
        began = clock()
        ask(i)
        samples.append((clock() - began) / 1000)
    samples.sort()
    wall, cpu = time.perf_counter(), time.thread_time()
    for i in range(count):
        ask(i)
    wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
    return {
        "p50": _percentile(samples, 0.5),
        "p90": _percentile(samples, 0.9),
        "p99": _percentile(samples, 0.99),
        "p999": _percentile(samples, 0.999),
        "max": samples[-1],
        "per_cpu_second": count / cpu,
        "per_second": count / wall,
    }


def _in_process(
    mirror: mirrored_client.MirroredSidecarClient, customers: int, count: int
) -> dict[str, dict[str, float]]:
    ids = [f"customer-{i}" for i in range(customers)]
    missed = 0

    def boolean(i: int) -> None:
        nonlocal missed
        if not mirror.get_boolean_entitlement(ids[i % customers], "feature-sso").from_mirror:
            missed += 1

    def metered(i: int) -> None:
        nonlocal missed
        if not mirror.get_metered_entitlement(
            ids[i % customers], "feature-api-calls", requested_usage=5
        ).from_mirror:
            missed += 1

    rows = {"boolean": _timed(boolean, count), "metered, requested usage": _timed(metered, count)}
    rows["boolean"]["missed"] = float(missed)
    return rows


def _over_grpc(target: str, customers: int, count: int) -> dict[str, float]:
    with client.SidecarClient(target, timeout=5) as plain:
        plain.get_boolean_entitlement("customer-0", "feature-sso")
        return _timed(
            lambda i: plain.get_boolean_entitlement(f"customer-{i % customers}", "feature-sso"), count
        )


def _report_upstream(emulator: launcher.RunningEmulator, customer_id: str) -> None:
    body = {
        "operationName": "ReportUsage",
        "query": "mutation ReportUsage($input: ReportUsageInput!) { reportUsage(input: $input) { id } }",
        "variables": {"input": {"customerId": customer_id, "featureId": "feature-api-calls", "value": 1}},
    }
    request = urllib.request.Request(  # noqa: S310 -- loopback
        f"{emulator.base_url}/graphql",
        data=json.dumps(body).encode(),
        headers={"X-API-KEY": API_KEY, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 -- loopback
        if response.status != 200:
            raise SystemExit(f"the emulator refused the report: {response.status}")


def _propagation(
    mirror: mirrored_client.MirroredSidecarClient,
    emulator: launcher.RunningEmulator,
    customers: int,
    changes: int,
) -> list[float]:
    out = []
    for n in range(changes):
        customer_id = f"customer-{n % customers}"
        before = mirror.get_metered_entitlement(
            customer_id, "feature-api-calls"
        ).response.entitlement.current_usage
        began = time.perf_counter()
        _report_upstream(emulator, customer_id)
        deadline = began + 10
        while True:
            answer = mirror.get_metered_entitlement(customer_id, "feature-api-calls")
            if answer.from_mirror and answer.response.entitlement.current_usage != before:
                break
            if time.perf_counter() > deadline:
                raise SystemExit("a change did not reach the mirror within 10 s")
            time.sleep(0.00005)
        out.append((time.perf_counter() - began) * 1000)
    return sorted(out)


FOLLOWER = """
import asyncio, sys
import grpc
from stigg_sidecar.v1 import mirror_pb2 as mpb, mirror_pb2_grpc as mpb_grpc

async def follow(target, index, customers, counts):
    async with grpc.aio.insecure_channel(target, options=[("grpc.use_local_subchannel_pool", 1)]) as channel:
        keys = [mpb.CustomerKey(customer_id=f"customer-{i}") for i in range(customers)]
        async def requests():
            yield mpb.FollowRequest(subscribe=keys)
            await asyncio.Event().wait()
        stub = mpb_grpc.MirrorServiceStub(channel)
        call = stub.Follow(requests(), metadata=(("stigg-mirror-stream", f"f{index}"),))
        async for _ in call:
            counts[index] += 1

async def main(target, streams, customers):
    counts = [0] * streams
    tasks = [asyncio.create_task(follow(target, i, customers, counts)) for i in range(streams)]
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    print(sum(counts), flush=True)
    for task in tasks:
        task.cancel()

asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
"""


def _cpu_with_followers(
    sidecar: sidecar_launcher.RunningSidecar,
    emulator: launcher.RunningEmulator,
    followers: int,
    rate: float,
    seconds: float,
) -> dict[str, float]:
    """The sidecar's CPU over ``seconds`` of usage reported upstream at ``rate`` (each a
    real-time event the sidecar applies, and a change for every stream following it), with
    ``followers`` streams."""
    child = None
    if followers:
        child = subprocess.Popen(
            [
                "taskset",
                "-c",
                str(CLIENT_CORE),
                sys.executable,
                "-c",
                FOLLOWER,
                sidecar.grpc_target,
                str(followers),
                str(FOLLOWED),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )
        if child.stdout is None or child.stdin is None or child.stdout.readline().strip() != "ready":
            raise SystemExit("the followers did not start")
        deadline = time.monotonic() + 30
        while sidecar.metric("sidecar_mirror_streams") < followers + 1:  # + this process's client
            if time.monotonic() > deadline:
                raise SystemExit("the followers did not all subscribe")
            time.sleep(0.1)
        time.sleep(1)
    try:
        pid = sidecar.process.pid
        cpu, began = _cpu_seconds(pid), time.monotonic()
        sent = 0
        while (elapsed := time.monotonic() - began) < seconds:
            if sent < elapsed * rate:
                _report_upstream(emulator, f"customer-{sent % FOLLOWED}")
                sent += 1
            else:
                time.sleep(0.0005)
        time.sleep(0.2)  # the last events reach the sidecar
        used = _cpu_seconds(pid) - cpu
    finally:
        received = 0
        if child is not None and child.stdin is not None and child.stdout is not None:
            child.stdin.write("\n")
            child.stdin.flush()
            received = int(child.stdout.readline().strip() or 0)
            child.wait(timeout=10)
    return {"cpu": used, "sent": sent, "received": received, "seconds": seconds}


def _median(values: Sequence[float]) -> tuple[float, float, float]:
    return statistics.median(values), min(values), max(values)


def _cell(values: Sequence[float], digits: int = 1) -> str:
    middle, low, high = _median(values)
    return f"{middle:,.{digits}f} ({low:,.{digits}f}-{high:,.{digits}f})"


def _report(args: argparse.Namespace, runs: list[dict[str, object]], loads: tuple[str, str]) -> str:
    lines = [
        "# Mirrored client: checks answered in-process, against the same check over gRPC",
        "",
        f"{platform.machine()}, {os.cpu_count()} cores (shared machine), Python {platform.python_version()}. "
        f"Sidecar pinned to core {SIDECAR_CORE}, this process (the mirrored client, its stream reader "
        f"thread included) to core {CLIENT_CORE}. {args.customers} customers, all followed. "
        f"{args.repeats} runs: median (min-max). "
        f"Load average at the start {loads[0]}, at the end {loads[1]}.",
        "",
        f"## In-process checks ({args.checks:,} timed calls per run, then as many untimed)",
        "",
        "| check | p50 µs | p90 µs | p99 µs | p99.9 µs | max µs | checks per CPU second | checks/s (wall) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for label in ("boolean", "metered, requested usage"):
        rows = [run["in_process"][label] for run in runs]  # type: ignore[index]
        lines.append(
            f"| {label} (mirror) | "
            + " | ".join(
                _cell([r[k] for r in rows], 2 if k.startswith("p") else 0)
                for k in ("p50", "p90", "p99", "p999", "max")
            )
            + f" | {_cell([r['per_cpu_second'] for r in rows], 0)}"
            + f" | {_cell([r['per_second'] for r in rows], 0)} |"
        )
    grpc_rows = [run["grpc"] for run in runs]
    lines.append(
        "| boolean over gRPC (plain client, one at a time) | "
        + " | ".join(_cell([r[k] for r in grpc_rows], 0) for k in ("p50", "p90", "p99", "p999", "max"))  # type: ignore[index]
        + f" | {_cell([r['per_cpu_second'] for r in grpc_rows], 0)}"  # type: ignore[index]
        + f" | {_cell([r['per_second'] for r in grpc_rows], 0)} |"  # type: ignore[index]
    )
    missed = sum(run["in_process"]["boolean"]["missed"] for run in runs)  # type: ignore[index]
    boolean = [run["in_process"]["boolean"] for run in runs]  # type: ignore[index]
    p50, p99 = statistics.median(r["p50"] for r in boolean), statistics.median(r["p99"] for r in boolean)
    rate = statistics.median(r["per_cpu_second"] for r in boolean)
    grpc_p50 = statistics.median(r["p50"] for r in grpc_rows)  # type: ignore[index]
    lines += [
        "",
        f"Goals: p50 <= 5 µs (**{p50:.2f}**), p99 <= 50 µs (**{p99:.2f}**), >= 100,000 checks/s on one core "
        f"(**{rate:,.0f}** per CPU second). The in-process check is {grpc_p50 / p50:,.0f} times faster than "
        f"the same check over gRPC at p50. Boolean checks not answered by the mirror: {missed:.0f}.",
        "",
        "A check that reads only `has_access` builds no protobuf message; reading `answer.response` builds "
        "the sidecar's response message (a few µs more, once per answer).",
        "",
        f"## Propagation: usage reported upstream to the mirror's answer ({args.changes} changes per run)",
        "",
        "| p50 ms | p90 ms | p99 ms | max ms |",
        "| --- | --- | --- | --- |",
    ]
    props = [run["propagation"] for run in runs]
    lines.append(
        "| "
        + " | ".join(_cell([_percentile(p, f) for p in props], 1) for f in (0.5, 0.9, 0.99))  # type: ignore[arg-type]
        + f" | {_cell([p[-1] for p in props], 1)} |"  # type: ignore[index]
    )
    p99_prop = statistics.median(_percentile(p, 0.99) for p in props)  # type: ignore[arg-type]
    lines += [
        "",
        f"Goal: p99 <= 20 ms (**{p99_prop:.1f}**). The path: the emulator's GraphQL mutation, its real-time "
        "event over the websocket to the sidecar, the sidecar's store and hub, the Follow stream, the "
        "replica. The clock starts before the report is sent, so the mutation's own round trip is included.",
        "",
        f"## The sidecar's CPU per mirror client (usage reported upstream at {args.rate:g}/s for "
        f"{args.seconds:g} s: each a real-time event the sidecar applies; each stream follows the "
        f"{FOLLOWED} customers reported for)",
        "",
        "| mirror streams | sidecar CPU % | changes sent | messages received | sidecar CPU µs per change | "
        "added µs per change per stream |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    baseline = None
    for followers in args.followers:
        rows = [run["cpu"][followers] for run in runs]  # type: ignore[index]
        per_change = [r["cpu"] / r["sent"] * 1e6 for r in rows]
        middle = statistics.median(per_change)
        if baseline is None:
            baseline = middle
        added = "" if not followers else f"{(middle - baseline) / followers:,.1f}"
        lines.append(
            f"| {followers} | {_cell([r['cpu'] / r['seconds'] * 100 for r in rows], 1)} | "
            f"{_cell([r['sent'] for r in rows], 0)} | {_cell([r['received'] for r in rows], 0)} | "
            f"{_cell(per_change, 0)} | {added} |"
        )
    lines += [
        "",
        "Each change is serialized once and framed per stream (`mirror.codec.frame`), so a stream adds "
        "its framing and gRPC's write. The first row (no stream but this process's own client, which "
        "follows every customer) is the cost of the event itself: its websocket frame, parsing, the "
        "store and one stream. The last column is what each further stream adds to a change.",
        "",
        "Command: `make bench` (or `python bench/mirror_checks.py`).",
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--checks", type=int, default=200_000)
    parser.add_argument("--grpc-checks", type=int, default=5000)
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--followers", type=lambda s: [int(x) for x in s.split(",")], default=[0, 1, 10, 50])
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=8)
    args = parser.parse_args()
    loads = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    os.sched_setaffinity(0, {CLIENT_CORE})
    with tempfile.TemporaryDirectory(prefix="bench-mirror-") as scratch:
        work = pathlib.Path(scratch)
        _catalog(work / "catalog.yaml", args.customers)
        emulator = launcher.start(catalog_path=work / "catalog.yaml", latency_ms=0, api_key=API_KEY)
        try:
            env = {
                "SERVER_API_KEY": API_KEY,
                "API_URL": emulator.base_url,
                "EDGE_API_URL": emulator.base_url,
                "WS_URL": emulator.ws_url,
                "SIDECAR_STATE_DIR": str(work / "state"),
                "LOG_LEVEL": "warn",
            }
            sidecar = sidecar_launcher.start(env, work / "sidecar.log", timeout=60)
            try:
                subprocess.run(
                    ["taskset", "-acp", str(SIDECAR_CORE), str(sidecar.process.pid)],
                    check=True,
                    capture_output=True,
                )
                runs: list[dict[str, object]] = []
                with mirrored_client.MirroredSidecarClient(
                    sidecar.grpc_target, timeout=10, staleness=3
                ) as mirror:
                    _warm(mirror, args.customers)
                    for _ in range(args.repeats):
                        run: dict[str, object] = {
                            "in_process": _in_process(mirror, args.customers, args.checks),
                            "grpc": _over_grpc(sidecar.grpc_target, args.customers, args.grpc_checks),
                            "propagation": _propagation(mirror, emulator, args.customers, args.changes),
                        }
                        run["cpu"] = {
                            n: _cpu_with_followers(sidecar, emulator, n, args.rate, args.seconds)
                            for n in args.followers
                        }
                        runs.append(run)
                        print(f"run {len(runs)} done", file=sys.stderr)
            finally:
                sidecar.stop()
        finally:
            emulator.stop()
    after = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    RESULTS.write_text(_report(args, runs, (loads, after)))
    print(RESULTS.read_text())
    return 0


def _warm(mirror: mirrored_client.MirroredSidecarClient, customers: int) -> None:
    """Check every customer once (over gRPC: it subscribes), then until the mirror answers all."""
    for i in range(customers):
        mirror.get_boolean_entitlement(f"customer-{i}", "feature-sso")
    deadline = time.monotonic() + 60
    pending = list(range(customers))
    while pending:
        pending = [
            i
            for i in pending
            if not mirror.get_boolean_entitlement(f"customer-{i}", "feature-sso").from_mirror
        ]
        if time.monotonic() > deadline:
            raise SystemExit(f"{len(pending)} customers never reached the mirror")
        time.sleep(0.05)


if __name__ == "__main__":
    sys.exit(main())
