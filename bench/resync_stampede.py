"""Benchmark: many sidecars resyncing at once after an upstream blip, with and without the spread.

What it runs (real processes on 127.0.0.1): one upstream emulator (``--latency-ms``, 100 ms by
default, like Stigg's Edge API) and ``--sidecars`` sidecars following its real-time stream, each
with the same ``--customers`` customers cached (the replicas of one application). Then,
``--rounds`` times, the emulator drops every stream connection at once
(``POST /_emulator/stream/drop``): every sidecar reconnects and refetches everything it holds.
The emulator timestamps every request on arrival (``GET /_emulator/requests/arrivals``), from
which come the upstream's peak request rate (the busiest 100 ms bin, and the busiest second)
and the time from the drop until the last refetch arrived; the sidecars' own counters
(``sidecar_stream_resynced_entries_total``) confirm that each refreshed every entry. Meanwhile
a probe checks held customers through one sidecar, 50 times a second with a 1 s deadline. The
sidecars run at nice 10, so that they do not starve the emulator (the upstream, which has machines
of its own in production) of CPU on a small machine.

Three modes, each with its own sidecars: **off** (``SIDECAR_RESYNC_JITTER_SECONDS=0``,
``SIDECAR_RESYNC_RATE=0`` and ``SIDECAR_UPSTREAM_CONCURRENCY=32``: every sidecar refetches at
once, 16 at a time, as before the spread existed), **on** (the defaults: a random start within
5 s, then at most 20 refetches a second, 8 at a time) and **on-10** (the same at 10 a second:
20 sidecars at 20 a second fill two small cores, where the emulator shares them with every
sidecar, so this one shows the rate's bound with room to spare). The cores the emulator and the
sidecars kept busy during each round, and the machine's idle time, are reported too. Writes
``bench/results/resync-stampede.md``.

    python bench/resync_stampede.py [--sidecars 20] [--customers 200] [--rounds 3] [--latency-ms 100]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import dataclasses
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import aiohttp
import grpc
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stigg_devkit import childproc, sidecar_launcher  # noqa: E402
from stigg_emulator import catalog, launcher  # noqa: E402
from stigg_sidecar import client, settings  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "resync-stampede.md"
API_KEY = "bench-key"
EDGE = "edge:entitlements-state"
STREAM = "stream:graphql"
BIN_S = 0.1
PROBE_PER_S = 50.0
# The upstream has machines of its own; here it shares two cores with every sidecar, and an
# emulator starved of CPU takes what queued meanwhile in bursts, so that its arrival times show
# its own scheduling rather than what the sidecars sent. The sidecars run at a lower priority.
SIDECAR_NICE = 10
RESYNCED = "sidecar_stream_resynced_entries_total"
MODES = {
    # The resync as it was before the spread: at once, 16 at a time (the resync takes half the
    # upstream slots: 32 of them give the old cap).
    "off": {
        "SIDECAR_RESYNC_JITTER_SECONDS": "0",
        "SIDECAR_RESYNC_RATE": "0",
        "SIDECAR_UPSTREAM_CONCURRENCY": "32",
    },
    "on": {},  # the defaults: 5 s of jitter, 20 a second, 8 at a time
    "on-10": {"SIDECAR_RESYNC_RATE": "10"},
}


@dataclasses.dataclass
class Round:
    fetches: int
    peak_bin: int  # requests in the busiest 100 ms bin
    peak_second: int  # requests in the busiest second (sliding)
    duration_s: float  # from the drop to the last refetch's arrival
    reconnect_spread_s: float  # from the first stream reconnection to the last
    resynced_ok: bool  # every sidecar refreshed every entry
    per_second: list[int]  # refetches in each second after the drop
    probe_ms: list[float]
    probe_bad: int  # probe checks that failed or answered a fallback
    emulator_cores: float  # the emulator's CPU from the drop until every entry was refreshed, in cores
    sidecars_cores: float  # all the sidecars' together
    idle: float  # the machine's idle fraction meanwhile


def _cpu_seconds(pid: int) -> float:
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _idle_and_total() -> tuple[int, int]:
    ticks = [int(n) for n in pathlib.Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return ticks[3] + ticks[4], sum(ticks)


def _catalog(path: pathlib.Path, customers: int) -> None:
    document = yaml.safe_load(catalog.SAMPLE_PATH.read_text())
    document["customers"] = [{"id": f"customer-{i}", "plan": "plan-pro"} for i in range(customers)]
    path.write_text(yaml.safe_dump(document))


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def _json(session: aiohttp.ClientSession, url: str) -> dict[str, object]:
    async with session.get(url) as response:
        response.raise_for_status()
        body: dict[str, object] = await response.json()
        return body


async def _metric(
    session: aiohttp.ClientSession, sidecar: sidecar_launcher.RunningSidecar, name: str
) -> float:
    async with session.get(f"{sidecar.http_url}/metrics") as response:
        text = await response.text()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


async def _fetches(session: aiohttp.ClientSession, emulator: launcher.RunningEmulator) -> int:
    """Entitlement fetches the emulator has counted so far."""
    by_endpoint = (await _json(session, f"{emulator.admin_url}/requests"))["byEndpoint"]
    if not isinstance(by_endpoint, dict):
        raise SystemExit(f"unexpected answer from the emulator: {by_endpoint!r}")
    return int(by_endpoint.get(EDGE, 0))


async def _arrivals(
    session: aiohttp.ClientSession, emulator: launcher.RunningEmulator, endpoint: str, since: float
) -> list[float]:
    body = await _json(session, f"{emulator.admin_url}/requests/arrivals?endpoint={endpoint}&since={since}")
    if body["forgotten"]:
        raise SystemExit("the emulator forgot arrivals: fewer rounds or customers")
    arrivals = body["arrivals"]
    if not isinstance(arrivals, list):
        raise SystemExit(f"unexpected answer from the emulator: {body!r}")
    return [float(t) for t in arrivals]


async def _warm(sidecar: sidecar_launcher.RunningSidecar, customers: int) -> None:
    """Every customer cached, 8 first checks at a time."""
    async with client.AsyncSidecarClient(sidecar.grpc_target, timeout=30) as stub:
        for start in range(0, customers, 8):
            answers = await asyncio.gather(
                *(
                    stub.get_boolean_entitlement(f"customer-{i}", "feature-sso")
                    for i in range(start, min(customers, start + 8))
                )
            )
            if not all(a.has_access and not a.is_fallback for a in answers):
                raise SystemExit("a warm-up check did not get the upstream's answer")


async def _probe(
    sidecar: sidecar_launcher.RunningSidecar, customers: int, stop: asyncio.Event
) -> tuple[list[float], int]:
    """Checks of held customers at PROBE_PER_S, each with a 1 s deadline: latencies, bad answers."""
    latencies: list[float] = []
    bad = 0
    async with client.AsyncSidecarClient(sidecar.grpc_target, timeout=1.0) as stub:
        began = time.monotonic()
        n = 0
        while not stop.is_set():
            delay = began + n / PROBE_PER_S - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            started = time.perf_counter()
            try:
                answer = await stub.get_boolean_entitlement(f"customer-{(n * 7) % customers}", "feature-sso")
                bad += answer.is_fallback or not answer.has_access
            except grpc.aio.AioRpcError:
                bad += 1
            latencies.append((time.perf_counter() - started) * 1000)
            n += 1
    return latencies, bad


async def _round(
    session: aiohttp.ClientSession,
    emulator: launcher.RunningEmulator,
    sidecars: list[sidecar_launcher.RunningSidecar],
    customers: int,
) -> Round:
    before = await asyncio.gather(*(_metric(session, s, RESYNCED) for s in sidecars))
    fetched_before = await _fetches(session, emulator)
    stop = asyncio.Event()
    probe = asyncio.create_task(_probe(sidecars[0], customers, stop))
    await asyncio.sleep(0.5)  # the probe's connection is up
    emulator_cpu = _cpu_seconds(emulator.process.pid)
    sidecars_cpu = sum(_cpu_seconds(s.process.pid) for s in sidecars)
    idle, total = _idle_and_total()
    began = time.monotonic()
    dropped_at = time.time()
    dropped = await _drop_streams(session, emulator)
    if dropped != len(sidecars):
        raise SystemExit(f"the emulator dropped {dropped} streams, not {len(sidecars)}")
    deadline = time.monotonic() + 180
    while True:  # the emulator's counter first: scraping 20 sidecars' metrics costs CPU (5 ms each)
        await asyncio.sleep(0.25)
        if await _fetches(session, emulator) - fetched_before >= len(sidecars) * customers:
            now = await asyncio.gather(*(_metric(session, s, RESYNCED) for s in sidecars))
            done = [after - was >= customers for after, was in zip(now, before, strict=True)]
            if all(done):
                break
        if time.monotonic() > deadline:
            raise SystemExit("the sidecars did not resync every entry within 180 s")
    emulator_cpu = _cpu_seconds(emulator.process.pid) - emulator_cpu
    sidecars_cpu = sum(_cpu_seconds(s.process.pid) for s in sidecars) - sidecars_cpu
    idle_now, total_now = _idle_and_total()
    elapsed = time.monotonic() - began
    await asyncio.sleep(1.0)  # anything late still arrives
    stop.set()
    latencies, bad = await probe
    fetches = await _arrivals(session, emulator, EDGE, dropped_at)
    reconnects = await _arrivals(session, emulator, STREAM, dropped_at)
    bins = collections.Counter(int((t - dropped_at) / BIN_S) for t in fetches)
    per_second = [0] * (int(fetches[-1] - dropped_at) + 1)
    for t in fetches:
        per_second[int(t - dropped_at)] += 1
    window_end = 0
    peak_second = 0
    for start, t in enumerate(fetches):  # sorted: a sliding one-second window
        while window_end < len(fetches) and fetches[window_end] < t + 1.0:
            window_end += 1
        peak_second = max(peak_second, window_end - start)
    return Round(
        fetches=len(fetches),
        peak_bin=max(bins.values()),
        peak_second=peak_second,
        duration_s=fetches[-1] - dropped_at,
        reconnect_spread_s=reconnects[-1] - reconnects[0] if reconnects else 0.0,
        resynced_ok=all(done),
        per_second=per_second,
        probe_ms=latencies,
        probe_bad=bad,
        emulator_cores=emulator_cpu / elapsed,
        sidecars_cores=sidecars_cpu / elapsed,
        idle=(idle_now - idle) / max(1, total_now - total),
    )


async def _drop_streams(session: aiohttp.ClientSession, emulator: launcher.RunningEmulator) -> int:
    async with session.post(f"{emulator.admin_url}/stream/drop") as response:
        response.raise_for_status()
        return int((await response.json())["dropped"])


def _start_sidecars(
    emulator: launcher.RunningEmulator, workdir: pathlib.Path, count: int, mode: str
) -> list[sidecar_launcher.RunningSidecar]:
    env = {
        "SERVER_API_KEY": API_KEY,
        "API_URL": emulator.base_url,
        "EDGE_API_URL": emulator.base_url,
        "WS_URL": emulator.ws_url,
        "LOG_LEVEL": "warn",
        **MODES[mode],
    }
    started: list[sidecar_launcher.RunningSidecar] = []
    try:
        for i in range(count):  # from the main thread: each child dies with this process
            started.append(sidecar_launcher.start(env, workdir / f"{mode}-{i}.log", timeout=60))
    except BaseException:
        _stop_all(started)
        raise
    for sidecar in started:
        _lower_priority(sidecar.process.pid)
    deadline = time.monotonic() + 30
    for sidecar in started:
        while sidecar.http_json("/readyz")[1].get("stream") != "live":
            if time.monotonic() > deadline:
                _stop_all(started)
                raise SystemExit("a sidecar's stream did not come up")
            time.sleep(0.05)
    return started


def _lower_priority(pid: int) -> None:
    """Every thread of the process at ``SIDECAR_NICE`` (threads it starts later inherit it)."""
    for task in pathlib.Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(ProcessLookupError):
            os.setpriority(os.PRIO_PROCESS, int(task.name), SIDECAR_NICE)


def _stop_all(sidecars: list[sidecar_launcher.RunningSidecar]) -> None:
    for sidecar in sidecars:
        with contextlib.suppress(Exception):
            sidecar.terminate()
    for sidecar in sidecars:
        with contextlib.suppress(Exception):
            childproc.stop(sidecar.process, 15)


async def _mode(
    emulator: launcher.RunningEmulator,
    sidecars: list[sidecar_launcher.RunningSidecar],
    args: argparse.Namespace,
    mode: str,
) -> list[Round]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        await asyncio.gather(*(_warm(s, args.customers) for s in sidecars))
        await asyncio.sleep(6.0)  # every first connection's resync has run (it found nothing older)
        rounds = []
        for number in range(args.rounds):
            measured = await _round(session, emulator, sidecars, args.customers)
            rounds.append(measured)
            print(
                f"{mode} round {number + 1}: {measured.fetches} refetches, peak {measured.peak_bin}"
                f" per 100 ms, {measured.peak_second} per second, all in {measured.duration_s:.1f} s",
                flush=True,
            )
            await asyncio.sleep(2.0)
    return rounds


def _median_range(values: list[float], digits: int = 0) -> str:
    return f"{statistics.median(values):.{digits}f} ({min(values):.{digits}f} to {max(values):.{digits}f})"


def _report(
    args: argparse.Namespace,
    results: dict[str, list[Round]],
    load: tuple[float, ...],
    load_after: tuple[float, ...],
    seconds: float,
) -> str:
    defaults = settings.Settings.from_env({"SERVER_API_KEY": "k"})
    lines = [
        "# Resync without a stampede: many sidecars after an upstream blip",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {platform.node()} "
        f"({os.cpu_count()} cores, shared, Python {platform.python_version()}); load average before the run "
        f"{' / '.join(f'{x:.2f}' for x in load)}, after it {' / '.join(f'{x:.2f}' for x in load_after)}; "
        f"{seconds:.0f} s in all. Command: "
        f"`python bench/resync_stampede.py --sidecars {args.sidecars} --customers {args.customers} "
        f"--rounds {args.rounds} --latency-ms {args.latency_ms:g}`.",
        "",
        f"{args.sidecars} sidecar processes follow one emulator's stream (it answers a fetch after "
        f"{args.latency_ms:g} ms), each holding the same {args.customers} customers. The emulator then "
        f"drops every stream at once, {args.rounds} times per mode; each sidecar reconnects and refetches "
        f"all it holds ({args.sidecars * args.customers:,} fetches per round). Figures are the emulator's "
        "own arrival timestamps: the busiest 100 ms bin and the busiest (sliding) second, and the time "
        "from the drop to the last refetch's arrival; medians of the rounds, ranges in brackets. Cores "
        "busy: the CPU the emulator and the sidecars (all together) used from the drop until every "
        "entry was refreshed, over that time; machine idle: the share of both cores idle meanwhile. "
        "**off**: "
        "`SIDECAR_RESYNC_JITTER_SECONDS=0 SIDECAR_RESYNC_RATE=0 SIDECAR_UPSTREAM_CONCURRENCY=32`, the "
        "resync as it was before the spread (at once, 16 refetches in flight per sidecar: the resync "
        "takes half the upstream slots); **on**: the defaults "
        f"({defaults.resync_jitter_seconds:g} s of jitter, {defaults.resync_rate:g} refetches a second, "
        f"at most {defaults.upstream_concurrency // 2} in flight); **on-10**: the same at 10 a second. "
        f"The sidecars run at nice "
        f"{SIDECAR_NICE}, so that the emulator (the upstream, which has machines of its own) is not "
        "starved of CPU by them. A probe checks held customers through one sidecar meanwhile "
        f"({PROBE_PER_S:g}/s, 1 s deadline).",
        "",
        "| mode | refetches per round | peak per 100 ms | peak per second | drop to last refetch (s) "
        "| reconnections spread over (s) | cores busy, emulator / sidecars | machine idle "
        "| probe p50 / p99 (ms) | probe fallbacks or errors |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for mode, rounds in results.items():
        probes = [ms for r in rounds for ms in r.probe_ms]
        lines.append(
            f"| {mode} | {_median_range([r.fetches for r in rounds])} "
            f"| {_median_range([r.peak_bin for r in rounds])} "
            f"| {_median_range([r.peak_second for r in rounds])} "
            f"| {_median_range([r.duration_s for r in rounds], 1)} "
            f"| {_median_range([r.reconnect_spread_s for r in rounds], 2)} "
            f"| {statistics.median(r.emulator_cores for r in rounds):.2f} / "
            f"{statistics.median(r.sidecars_cores for r in rounds):.2f} "
            f"| {statistics.median(r.idle for r in rounds):.0%} "
            f"| {statistics.median(probes):.1f} / {_percentile(probes, 0.99):.1f} "
            f"| {sum(r.probe_bad for r in rounds)} of {len(probes)} |"
        )
    lines += ["", "Refetches in each second after the drop (the round with the median peak):", ""]
    for mode, rounds in results.items():
        middle = sorted(rounds, key=lambda r: r.peak_bin)[len(rounds) // 2]
        lines.append(f"- **{mode}**: {', '.join(str(n) for n in middle.per_second)}")
    peaks = {m: statistics.median([r.peak_bin for r in rounds]) for m, rounds in results.items()}
    incomplete = [m for m, rounds in results.items() if not all(r.resynced_ok for r in rounds)]
    lines += [
        "",
        "Peak per 100 ms as a rate: "
        + ", ".join(f"{m} {peak * 10:,.0f}/s" for m, peak in peaks.items())
        + f"; bounds by construction: off {args.sidecars} x 16 in flight, on "
        f"{args.sidecars} x {defaults.resync_rate:g}/s = {args.sidecars * defaults.resync_rate:,.0f}/s, "
        f"on-10 {args.sidecars * 10:,}/s. Every sidecar refreshed every entry in every round"
        + (f" except in {', '.join(incomplete)}." if incomplete else "."),
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sidecars", type=int, default=20)
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    args = parser.parse_args()
    load = os.getloadavg()
    began = time.monotonic()
    results: dict[str, list[Round]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        workdir = pathlib.Path(scratch)
        catalog_path = workdir / "catalog.yaml"
        _catalog(catalog_path, args.customers)
        with launcher.start(
            catalog_path=catalog_path, latency_ms=args.latency_ms, api_key=API_KEY, stderr=subprocess.DEVNULL
        ) as emulator:
            for mode in MODES:
                sidecars = _start_sidecars(emulator, workdir, args.sidecars, mode)
                try:
                    results[mode] = asyncio.run(_mode(emulator, sidecars, args, mode))
                finally:
                    _stop_all(sidecars)
    report = _report(args, results, load, os.getloadavg(), time.monotonic() - began)
    RESULTS.write_text(report)
    print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
