"""Benchmark: a fault soak. Mixed checks and usage reports against a sidecar while everything
around it misbehaves, then an audit of what it promised.

All real processes on 127.0.0.1: the upstream emulator (a generated catalog), redis-server, and
the sidecar (Redis shared cache, real-time stream, durable outbox on one state directory kept
across its restarts). For ``--seconds`` (600 by default) it runs:

* checks: ``--checkers`` workers asking boolean and metered checks of customers warmed at the
  start, each with a 1 s deadline;
* reports: one worker sending ``ReportUsage`` DELTA 1 about 20 times a second, one in
  ``--refused-every`` naming a customer the upstream does not know;
* faults, in a one-minute cycle: an upstream outage (10 s), a 30% error rate (10 s), 2 s latency
  spikes (10 s), a dropped stream, a Redis restart; and, once each, a SIGTERM restart and a
  SIGKILL restart of the sidecar (during calm phases, on the same state directory).

Then the faults stop, the outbox drains, and it audits: valid checks that failed while the
sidecar was up (goal 0); fallback answers for warmed customers (goal 0); acknowledged reports
missing upstream, or refused ones missing from the dead letters (goal 0); reports counted twice
(goal 0); check latency (p50, p99, max) and the sidecar's RSS over time. Calls refused while the
sidecar process was being restarted are counted apart: nothing answers on a port with no
process behind it (in Kubernetes, the Service routes to another replica meanwhile).
Writes ``bench/results/fault-soak.md``.

    python bench/fault_soak.py [--seconds 600] [--customers 200] [--checkers 4] [--refused-every 25]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import pathlib
import platform
import subprocess
import sys
import tempfile
import time

import aiohttp
import grpc
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stigg_devkit import sidecar_launcher  # noqa: E402
from stigg_emulator import catalog, launcher  # noqa: E402
from stigg_sidecar import client  # noqa: E402
from tests.integration.sidecar import redis_server  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "fault-soak.md"
API_KEY = "soak-key"
REPORTED = "customer-0"  # the customer whose usage the reports move (plan-free, usage 0)
FEATURE = "feature-api-calls"


@dataclasses.dataclass
class Tally:
    checks: int = 0
    check_failures: list[str] = dataclasses.field(default_factory=list)  # while the sidecar was up
    refused_while_restarting: int = 0
    fallbacks_for_warm: int = 0
    latencies_ms: list[float] = dataclasses.field(default_factory=list)
    acknowledged_good: int = 0
    acknowledged_refused: int = 0
    reports_not_acknowledged: int = 0
    rss_mib: list[tuple[float, float]] = dataclasses.field(default_factory=list)
    events: list[str] = dataclasses.field(default_factory=list)


class Sidecar:
    """The current sidecar process (replaced on restart) and whether it is being restarted."""

    def __init__(self, env: dict[str, str], workdir: pathlib.Path) -> None:
        self.env = env
        self.workdir = workdir
        self.generation = 0  # moves once a new process answers: workers then reconnect to it
        self.restarting = False
        self.running = self._start()

    def _start(self) -> sidecar_launcher.RunningSidecar:
        return sidecar_launcher.start(self.env, self.workdir / f"sidecar-{self.generation}.log")

    async def restart(self, *, kill: bool) -> None:
        self.restarting = True
        try:
            if kill:
                self.running.process.kill()
                await asyncio.to_thread(self.running.process.wait, 30)
            else:
                self.running.terminate()
                await asyncio.to_thread(self.running.process.wait, 60)
            running = await asyncio.to_thread(self._start)
            self.running, self.generation = running, self.generation + 1
        finally:
            self.restarting = False


def _catalog(path: pathlib.Path, customers: int) -> None:
    document = yaml.safe_load(catalog.SAMPLE_PATH.read_text())
    document["customers"] = [{"id": f"customer-{i}", "plan": "plan-free"} for i in range(customers)]
    path.write_text(yaml.safe_dump(document))


def _rss_mib(pid: int) -> float:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def _faults(
    session: aiohttp.ClientSession, emulator: launcher.RunningEmulator, **knobs: object
) -> None:
    async with session.put(f"{emulator.admin_url}/faults", json=knobs) as response:
        response.raise_for_status()


async def _checker(sidecar: Sidecar, warm: list[str], stop: asyncio.Event, tally: Tally, seed: int) -> None:
    n = seed
    while not stop.is_set():
        generation, target = sidecar.generation, sidecar.running.grpc_target
        async with client.AsyncSidecarClient(target, timeout=1.0) as stub:
            while not stop.is_set() and sidecar.generation == generation:
                customer = warm[n % len(warm)]
                n += 7
                began = time.perf_counter()
                restarting = sidecar.restarting
                try:
                    if n % 2:
                        answer = await stub.get_boolean_entitlement(customer, "feature-sso")
                    else:
                        answer = await stub.get_metered_entitlement(customer, FEATURE, requested_usage=1)
                except grpc.aio.AioRpcError as error:
                    if restarting or sidecar.restarting or sidecar.generation != generation:
                        tally.refused_while_restarting += 1
                    else:
                        tally.check_failures.append(f"{error.code().name}: {error.details()}")
                    await asyncio.sleep(0.05)
                    continue
                tally.checks += 1
                tally.latencies_ms.append((time.perf_counter() - began) * 1000)
                if answer.is_fallback:
                    tally.fallbacks_for_warm += 1
                await asyncio.sleep(0.005)


async def _reporter(sidecar: Sidecar, stop: asyncio.Event, tally: Tally, refused_every: int) -> None:
    n = 0
    while not stop.is_set():
        generation, target = sidecar.generation, sidecar.running.grpc_target
        async with client.AsyncSidecarClient(target, timeout=5.0) as stub:
            while not stop.is_set() and sidecar.generation == generation:
                n += 1
                refused = n % refused_every == 0
                customer = f"customer-gone-{n}" if refused else REPORTED
                try:
                    await stub.report_usage(customer, FEATURE, 1)
                except grpc.aio.AioRpcError:
                    tally.reports_not_acknowledged += 1  # not acknowledged: not promised
                    await asyncio.sleep(0.05)
                    continue
                if refused:
                    tally.acknowledged_refused += 1
                else:
                    tally.acknowledged_good += 1
                await asyncio.sleep(0.05)


async def _chaos(  # noqa: PLR0917 -- the soak's parts, passed once
    session: aiohttp.ClientSession,
    emulator: launcher.RunningEmulator,
    redis: redis_server.RedisServer,
    sidecar: Sidecar,
    seconds: float,
    stop: asyncio.Event,
    tally: Tally,
) -> None:
    began = time.monotonic()
    restarts = {0.4: False, 0.7: True}  # fraction of the run → kill (SIGKILL) or not (SIGTERM)

    announced: set[int] = set()

    def note(what: str) -> None:
        tally.events.append(f"{time.monotonic() - began:6.0f} s  {what}")

    phases = {
        10: "outage",
        20: "30% errors",
        30: "2 s latency spikes",
        40: "stream dropped",
        45: "redis restarted",
    }

    while (elapsed := time.monotonic() - began) < seconds:
        phase = elapsed % 60
        for fraction, kill in list(restarts.items()):
            if elapsed >= fraction * seconds and phase >= 50:  # in the calm phase
                del restarts[fraction]
                note(f"{'SIGKILL' if kill else 'SIGTERM'} restart of the sidecar")
                await sidecar.restart(kill=kill)
        if 10 <= phase < 20:
            await _faults(session, emulator, outage=True, errorRate=0, latencyMs=0)
        elif 20 <= phase < 30:
            await _faults(session, emulator, outage=False, errorRate=0.3, latencyMs=0)
        elif 30 <= phase < 40:
            spike = 2000 if int(phase) % 4 < 2 else 0
            await _faults(session, emulator, outage=False, errorRate=0, latencyMs=spike)
        else:
            await _faults(session, emulator, outage=False, errorRate=0, latencyMs=0)
        if int(phase) == 40:
            async with session.post(f"{emulator.admin_url}/stream/drop") as response:
                response.raise_for_status()
        if int(phase) == 45:
            await asyncio.to_thread(redis.stop)
            await asyncio.to_thread(redis.start)
        if int(elapsed) % 10 == 0:
            tally.rss_mib.append((elapsed, _rss_mib(sidecar.running.process.pid)))
        if int(phase) in phases and int(elapsed) not in announced:
            announced.add(int(elapsed))
            note(phases[int(phase)])
        await asyncio.sleep(1.0 - (time.monotonic() - began) % 1.0)
    stop.set()


def _dead_letters(state_dir: pathlib.Path) -> list[dict[str, object]]:
    listed = subprocess.run(
        [sys.executable, "-m", "stigg_sidecar", "dead-letters", "list"],
        env={**os.environ, "SIDECAR_STATE_DIR": str(state_dir)},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return [json.loads(line) for line in listed.stdout.splitlines()]


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))] if ordered else 0.0


async def soak(args: argparse.Namespace, workdir: pathlib.Path) -> str:
    catalog_path = workdir / "catalog.yaml"
    _catalog(catalog_path, args.customers)
    emulator = launcher.start(catalog_path=catalog_path, latency_ms=0, api_key=API_KEY)
    redis = redis_server.RedisServer(workdir)
    redis.start()
    state_dir = workdir / "state"
    env = redis_server.env(
        {
            "SERVER_API_KEY": API_KEY,
            "API_URL": emulator.base_url,
            "EDGE_API_URL": emulator.base_url,
            "WS_URL": emulator.ws_url,
            "SIDECAR_STATE_DIR": str(state_dir),
            "SIDECAR_CACHE_TTL_SECONDS": "5",
            "SIDECAR_UPSTREAM_TIMEOUT_SECONDS": "3",
            "SIDECAR_SHUTDOWN_DELAY_SECONDS": "1",
            "LOG_LEVEL": "warn",
        },
        redis,
    )
    sidecar = Sidecar(env, workdir)
    tally = Tally()
    warm = [f"customer-{i}" for i in range(args.customers)]
    try:
        async with client.AsyncSidecarClient(sidecar.running.grpc_target, timeout=10) as stub:
            for customer in warm:
                await stub.get_boolean_entitlement(customer, "feature-sso")
        stop = asyncio.Event()
        async with aiohttp.ClientSession() as session:
            workers = [
                asyncio.create_task(_checker(sidecar, warm, stop, tally, seed))
                for seed in range(args.checkers)
            ]
            workers.append(asyncio.create_task(_reporter(sidecar, stop, tally, args.refused_every)))
            await _chaos(session, emulator, redis, sidecar, args.seconds, stop, tally)
            await asyncio.gather(*workers)
            await _faults(session, emulator, outage=False, errorRate=0, latencyMs=0)
            deadline = time.monotonic() + 120
            while sidecar.running.metric("sidecar_outbox_depth") > 0 and time.monotonic() < deadline:  # noqa: ASYNC110 -- a poll of another process
                await asyncio.sleep(0.5)
            await asyncio.sleep(2)
            async with session.get(f"{emulator.admin_url}/usage/{REPORTED}") as response:
                upstream_usage = float((await response.json())["usage"].get(FEATURE, 0))
        depth = sidecar.running.metric("sidecar_outbox_depth")
        rss_end = _rss_mib(sidecar.running.process.pid)
    finally:
        sidecar.running.stop()
        redis.stop()
        emulator.stop()
    letters = _dead_letters(state_dir)
    return _report(args, tally, upstream_usage, letters, depth, rss_end)


def _report(  # noqa: PLR0917 -- what the audit found
    args: argparse.Namespace,
    tally: Tally,
    upstream_usage: float,
    letters: list[dict[str, object]],
    depth: float,
    rss_end: float,
) -> str:
    missing = max(0.0, tally.acknowledged_good - upstream_usage)
    duplicated = max(0.0, upstream_usage - tally.acknowledged_good)
    refused_kept = sum(
        1 for letter in letters if str(letter["item"]["customerId"]).startswith("customer-gone-")
    )  # type: ignore[index]
    refused_missing = max(0, tally.acknowledged_refused - refused_kept)
    rss = ", ".join(
        f"{int(at)} s: {mib:.0f}" for at, mib in tally.rss_mib[:: max(1, len(tally.rss_mib) // 12)]
    )
    failures = sorted({f for f in tally.check_failures})[:5]

    def goal(value: float) -> str:
        return f"{value:g} ({'met' if value == 0 else 'MISSED'})"

    return "\n".join(
        [
            "# Sidecar: fault soak",
            "",
            f"{platform.machine()}, {os.cpu_count()} cores (shared machine), "
            f"Python {platform.python_version()}. "
            f"{args.seconds:.0f} s of mixed checks ({args.checkers} workers, 1 s deadlines, {args.customers} "
            "warmed customers) and usage reports (about 20/s, one in "
            f"{args.refused_every} naming a customer the upstream does not know), through a one-minute cycle "
            "of faults: upstream outage 10 s, 30% errors 10 s, 2 s latency spikes 10 s, a dropped stream, a "
            "Redis restart; one SIGTERM and one SIGKILL restart of the sidecar. One run.",
            "",
            "| figure | value |",
            "| --- | --- |",
            f"| checks answered | {tally.checks:,} |",
            "| valid checks that failed while the sidecar was up (goal 0) | "
            f"{goal(len(tally.check_failures))} |",
            f"| fallback answers for warmed customers (goal 0) | {goal(tally.fallbacks_for_warm)} |",
            f"| check latency p50 / p99 / max | {_percentile(tally.latencies_ms, 0.5):.1f} / "
            f"{_percentile(tally.latencies_ms, 0.99):.1f} / {max(tally.latencies_ms, default=0):.0f} ms |",
            f"| calls refused while the sidecar process was being restarted (not a goal: no process) | "
            f"{tally.refused_while_restarting:,} |",
            f"| reports acknowledged (good / naming an unknown customer) | {tally.acknowledged_good:,} / "
            f"{tally.acknowledged_refused:,} |",
            "| reports not acknowledged (the caller knows: not promised) | "
            f"{tally.reports_not_acknowledged:,} |",
            f"| acknowledged reports missing upstream (goal 0) | {goal(missing)} |",
            f"| refused reports missing from the dead letters (goal 0) | {goal(refused_missing)} |",
            f"| reports counted twice upstream (goal 0) | {goal(duplicated)} |",
            f"| outbox depth after the drain | {depth:g} |",
            f"| sidecar RSS over time, MiB | {rss}; at the end: {rss_end:.0f} |",
            "",
            "First distinct check failures: " + ("; ".join(failures) if failures else "none") + ".",
            "",
            "Faults and restarts, from the start of the run:",
            "",
            "```",
            *tally.events,
            "```",
            "",
            "Command: `make bench` (or `python bench/fault_soak.py`).",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--checkers", type=int, default=4)
    parser.add_argument("--refused-every", type=int, default=25)
    parser.add_argument("--output", type=pathlib.Path, default=RESULTS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fault-soak-") as tmp:
        report = asyncio.run(soak(args, pathlib.Path(tmp)))
    args.output.write_text(report)
    print(report)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
