"""Benchmark: the sidecar's resident memory, idle and with 2,000 customers cached, and what it is made of.

Measured as ``bench/sidecar_checks.py`` measures it: a sidecar started by
``stigg_devkit.sidecar_launcher`` (``python -m stigg_sidecar``, the upstream emulator behind it),
``VmRSS`` read from ``/proc/PID/status``. **Idle** is read once the sidecar is ready
(``/readyz`` answered 200), before any check; **warm** after the Go load generator has checked
``--customers`` distinct customers (all cached, no fallback). Each configuration is started
``--repeats`` times, a fresh emulator and sidecar each time: median (min-max). Configurations:

* no Redis, real-time stream off: ``bench/sidecar_checks.py``'s configuration, the goal's;
* no Redis, stream on (``WS_ENABLED=true``, the default), following the emulator's stream;
* Redis configured (a local ``redis-server``), stream off; skipped when it is not installed;
* no Redis, stream on, and no bytecode: as ``Dockerfile.sidecar`` runs it (no ``.pyc`` files,
  ``PYTHONDONTWRITEBYTECODE``), every module compiled from source at start (no breakdown).

The breakdown: a fresh interpreter (``bench/sidecar_memory_probe.py``) imports, in the sidecar's
order, each group of modules the sidecar has loaded once started in that configuration, reading
its ``VmRSS`` after each group; then builds and starts the sidecar in-process
(``server.Sidecar``: gRPC server, probe port, outbox) and lists its threads. Writes
``bench/results/sidecar-memory.md``.

    python bench/sidecar_memory.py [--customers 2000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from importlib import metadata

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stigg_devkit import sidecar_launcher  # noqa: E402
from stigg_emulator import catalog, launcher  # noqa: E402
from tests.integration.sidecar import go_client, redis_server  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "sidecar-memory.md"
API_KEY = "bench-key"
GOAL_MIB = 45.0


def _status(pid: int | str) -> dict[str, str]:
    fields = {}
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def _mib(field: str) -> float:
    return int(field.split(maxsplit=1)[0]) / 1024


def _catalog(path: pathlib.Path, customers: int) -> None:
    document = yaml.safe_load(catalog.SAMPLE_PATH.read_text())
    document["customers"] = [
        {"id": f"customer-{i}", "plan": "plan-pro", "usage": {"feature-api-calls": i}}
        for i in range(customers)
    ]
    path.write_text(yaml.safe_dump(document))


def _warm(loadgen: pathlib.Path, target: str, customers: int) -> None:
    argv = [str(loadgen), "-target", target, f"-customers={customers}", "-concurrency=4", "-duration=3s"]
    completed = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=300)
    result = json.loads(completed.stdout)
    if result["errors"] or result["fallbacks"]:
        raise SystemExit(f"the warm-up failed against {target}: {result}")


def _env(name: str, emulator: launcher.RunningEmulator, redis_port: int | None) -> dict[str, str]:
    env = {
        "SERVER_API_KEY": API_KEY,
        "EDGE_API_URL": emulator.base_url,
        "API_URL": emulator.base_url,
        "WS_ENABLED": "false",
        "LOG_LEVEL": "error",
        "SIDECAR_CACHE_TTL_SECONDS": "3600",
    }
    if name in {"stream", "image"}:
        env.update(WS_ENABLED="true", WS_URL=emulator.ws_url)
    if name == "image":  # the image has no .pyc files (Dockerfile.sidecar): every module compiled at start
        nowhere = pathlib.Path(tempfile.gettempdir(), "bench-memory-no-bytecode")  # never created
        env.update(PYTHONDONTWRITEBYTECODE="1", PYTHONPYCACHEPREFIX=str(nowhere))
    if name == "redis":
        env.update(REDIS_ENVIRONMENT_PREFIX="bench", REDIS_HOST="127.0.0.1", REDIS_PORT=str(redis_port))
    return env


CONFIGS = {
    "plain": "no Redis, stream off (the goal's configuration)",
    "stream": "no Redis, stream on (the default)",
    "redis": "Redis configured, stream off",
    "image": "no Redis, stream on, no bytecode (as the image runs it)",
}
BROKEN_DOWN = ("plain", "stream", "redis")  # the image-like run's interpreter settings are its own


def _one_run(
    name: str, loadgen: pathlib.Path, customers: int, scratch: pathlib.Path, redis_port: int | None
) -> dict[str, float]:
    emulator = launcher.start(catalog_path=scratch / "catalog.yaml", latency_ms=0, api_key=API_KEY)
    try:
        env = _env(name, emulator, redis_port)
        sidecar = sidecar_launcher.start(env, scratch / f"sidecar-{name}.log")
        try:
            if env["WS_ENABLED"] == "true":  # idle means following the stream, as a default Pod does
                for _ in range(200):
                    if sidecar.http_json("/readyz")[1].get("stream") == "live":
                        break
                    time.sleep(0.05)
            pid = sidecar.process.pid
            idle = _status(pid)
            _warm(loadgen, sidecar.grpc_target, customers)
            warm = _status(pid)
        finally:
            sidecar.stop()
    finally:
        emulator.stop()
    return {
        "idle": _mib(idle["VmRSS"]),
        "idle_anon": _mib(idle["RssAnon"]),
        "idle_file": _mib(idle["RssFile"]),
        "threads": float(idle["Threads"]),
        "warm": _mib(warm["VmRSS"]),
    }


def _probe(env: Mapping[str, str]) -> dict[str, object]:
    """``bench/sidecar_memory_probe.py`` twice: the started sidecar's modules, then the breakdown."""
    program = [sys.executable, str(ROOT / "bench" / "sidecar_memory_probe.py"), json.dumps(dict(env))]
    completed = subprocess.run(program, capture_output=True, text=True, check=True, timeout=120, cwd=ROOT)
    loaded = json.loads(completed.stdout.splitlines()[-1])["loaded"]
    program.append(json.dumps(loaded))
    completed = subprocess.run(program, capture_output=True, text=True, check=True, timeout=120, cwd=ROOT)
    result: dict[str, object] = json.loads(completed.stdout.splitlines()[-1])
    return result


def _cell(rows: list[dict[str, float]], key: str, digits: int = 1) -> str:
    values = [row[key] for row in rows]
    return f"{statistics.median(values):.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def _breakdown_table(probe: dict[str, object]) -> list[str]:
    steps = probe["steps"]
    if not isinstance(steps, list):
        raise TypeError(steps)
    lines = ["| step | VmRSS after, MiB | added, MiB |", "| --- | ---: | ---: |"]
    previous = 0.0
    for label, rss in steps:
        lines.append(f"| {label} | {rss:.1f} | {rss - previous:+.1f} |")
        previous = rss
    threads = probe["threads"]
    if not isinstance(threads, list):
        raise TypeError(threads)
    counts = {name: threads.count(name) for name in dict.fromkeys(threads)}
    shown = ", ".join(f"{name} x{count}" if count > 1 else name for name, count in counts.items())
    lines += ["", f"Threads once started ({len(threads)}): {shown}."]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    loadgen = go_client.ensure_built("loadgen")
    scratch = pathlib.Path(tempfile.mkdtemp(prefix="bench-memory-"))
    _catalog(scratch / "catalog.yaml", args.customers)
    load_before = os.getloadavg()
    started = datetime.datetime.now(datetime.UTC)
    redis: redis_server.RedisServer | None = None
    if shutil.which("redis-server"):
        redis = redis_server.RedisServer(scratch)
        redis.start()
    configs = [name for name in CONFIGS if name != "redis" or redis is not None]
    rows: dict[str, list[dict[str, float]]] = {name: [] for name in configs}
    probes: dict[str, dict[str, object]] = {}
    try:
        for attempt in range(args.repeats):  # interleaved, so that machine noise hits all alike
            for name in configs:
                row = _one_run(name, loadgen, args.customers, scratch, redis.port if redis else None)
                rows[name].append(row)
                shown = {k: round(v, 1) for k, v in row.items()}
                print(f"  round {attempt + 1}, {name}: {json.dumps(shown)}", flush=True)
        emulator = launcher.start(catalog_path=scratch / "catalog.yaml", latency_ms=0, api_key=API_KEY)
        try:
            for name in configs:
                if name in BROKEN_DOWN:
                    probes[name] = _probe(_env(name, emulator, redis.port if redis else None))
        finally:
            emulator.stop()
    finally:
        if redis is not None:
            redis.stop()
    load_after = os.getloadavg()

    goal = statistics.median(row["idle"] for row in rows["plain"])
    lines = [
        "# Sidecar memory: resident set idle and with 2,000 customers cached",
        "",
        f"Run `python bench/sidecar_memory.py` on {platform.node()} ({os.cpu_count()} cores, shared; "
        f"Python {platform.python_version()}, grpcio {_version('grpcio')}), "
        f"{started:%Y-%m-%d %H:%M} UTC; load average {load_before[0]:.2f} before the run, "
        f"{load_after[0]:.2f} after. {args.repeats} fresh sidecars per configuration, interleaved: "
        "median (min-max).",
        "",
        "`VmRSS` from `/proc/PID/status` of a sidecar started as `bench/sidecar_checks.py` starts it "
        "(`python -m stigg_sidecar` from the development virtual environment, bytecode cached, "
        "the emulator as its upstream): **idle** once `/readyz` answers 200, before any check "
        f"(with the stream on: once it is live); **warm** after checks of {args.customers:,} "
        "distinct customers, all cached.",
        "",
        "| configuration | idle MiB | of which anonymous | of which file-backed | threads | "
        f"warm ({args.customers:,} customers) MiB |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
        *(
            f"| {CONFIGS[name]} | {_cell(rs, 'idle')} | {_cell(rs, 'idle_anon')} | "
            f"{_cell(rs, 'idle_file')} | {_cell(rs, 'threads', 0)} | {_cell(rs, 'warm')} |"
            for name, rs in rows.items()
        ),
        "",
        f"Goal: idle <= {GOAL_MIB:.0f} MiB with Redis not configured: {goal:.1f} MiB, "
        f"{'met' if goal <= GOAL_MIB else 'NOT met'}.",
        "",
        "## What it is made of",
        "",
        "A fresh interpreter imports, group by group in the sidecar's order, the modules the "
        "started sidecar has loaded in that configuration, then starts the sidecar in-process "
        "(one run each; the steps add up to the idle figure within about a MiB, the probe's own "
        "code).",
        "",
    ]
    for name, probe in probes.items():
        lines += [f"### {CONFIGS[name]}", "", *_breakdown_table(probe), ""]
    image_extra = "not measured"
    if "image" in rows and "stream" in rows:
        image, stream = (statistics.median(row["idle"] for row in rows[n]) for n in ("image", "stream"))
        image_extra = f"{image - stream:.1f} MiB more ({image:.1f} against {stream:.1f})"
    cuts = [line.replace("{image_extra}", image_extra) for line in CUTS]
    lines += [*cuts, *BEFORE, "Command: `make bench` (or `python bench/sidecar_memory.py`).", ""]
    report = "\n".join(lines)
    RESULTS.write_text(report)
    print(report)
    return 0


def _version(distribution: str) -> str:
    return metadata.version(distribution)


# Static sections of the report: what was cut, the floor, and the same script run on the code
# of commit 5ca3008 (its sidecar, envspec and operator from `git archive`, this devkit).
CUTS = [
    "## What was cut, and what is left",
    "",
    "Before, every sidecar loaded everything whatever its configuration. Now (commits after",
    "5ca3008): Redis's client (redis-py, 7 to 8 MiB) only when Redis is configured; aiohttp",
    "(about 10.5 MiB, `aiohttp.web` included) only for the real-time stream's WebSocket client,",
    "the upstream's requests going over `upstream/httpclient.py` and the HTTP port over",
    "`probe_port.py`'s own server, both small HTTP/1.1 on asyncio; prometheus_client never",
    "(`promtext.py`: the same exposition byte for byte; the package imports an HTTP server, a",
    "WSGI server, `urllib.request` and `email`, about 4 MiB once aiohttp no longer shares them);",
    "PyYAML only to read a YAML defaults file (the operator renders `defaults.json`); the",
    "`dead-letters` command (argparse) only when run. A unit test",
    "(`tests/unit/sidecar/test_lazy_imports.py`) starts sidecars in fresh interpreters and checks",
    "what they imported.",
    "",
    "The floor, in the breakdown above: the interpreter (11 MiB: libpython, the stdlib's core",
    "modules, `site`), asyncio with ssl (10 MiB: libssl and libcrypto, `concurrent.futures`),",
    "grpcio (10 MiB at import, its `cygrpc` extension alone 9.5 MiB resident in `smaps`; about",
    "3 MiB more when the server starts with its 7 threads: 4 `event_engine`, the timer,",
    "`lifeguard`, the completion-queue poller), protobuf with the generated code, health and",
    "reflection (3.7 MiB), sqlite3 for the outbox (0.8 MiB, libsqlite3 1.2 MiB resident): about",
    "40 MiB that any Python gRPC sidecar with a durable outbox holds. What the sidecar's own",
    "modules add is about 2 MiB (the mirror protocol's 0.2 included); the third thread named",
    "python is the outbox's SQLite worker.",
    "",
    "Not done, measured: `MALLOC_ARENA_MAX=1` or `2` in the environment changes idle by 0.1 MiB",
    "(warm by 1 MiB with 1, not at all with 2), so the Dockerfile is as well without it. The",
    "image runs without bytecode (`--no-compile`, no `__pycache__`, `PYTHONDONTWRITEBYTECODE`):",
    "every module is compiled at start, and the compiler's garbage stays in the allocator: the",
    "last row of the tables, 16.5 MiB more than with bytecode before these changes (80.0",
    "against 63.5 with the stream on), and now {image_extra}.",
    "Compiling the venv in the image (`python -m compileall --invalidation-mode unchecked-hash`,",
    "reproducible) would save that.",
    "A WebSocket client of our own for the stream would take aiohttp out of the default",
    "configuration too (the 10.4 MiB of the stream-on breakdown).",
    "",
    "Noise: RSS is not a timing, so the shared machine's load (load averages of 1 to 5.6 during",
    "these runs) hardly moves it: repeated idle readings agree within 1 MiB; warm readings vary",
    "by up to 4 MiB between runs (what the allocator keeps of the warm-up's garbage).",
    "",
]
BEFORE = [
    "## Before: commit 5ca3008",
    "",
    "(Before the mirror and the resync pacing were merged: together they add 0.2 MiB idle.)",
    "",
    "2026-12-02 01:46 UTC, load average 1.10 before the run, 5.60 after; median (min-max) of 3:",
    "",
    "| configuration | idle MiB | of which anonymous | of which file-backed | threads | "
    "warm (2,000 customers) MiB |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
    "| no Redis, stream off (the goal's configuration) | 63.5 (63.4-64.4) | 38.3 (38.3-39.4) | "
    "25.1 (25.0-25.2) | 9 (9-9) | 68.8 (68.1-69.2) |",
    "| no Redis, stream on (the default) | 63.5 (63.5-63.6) | 38.3 (38.3-38.3) | 25.2 (25.2-25.3) | "
    "9 (9-9) | 67.3 (67.2-67.7) |",
    "| Redis configured, stream off | 63.7 (63.6-63.8) | 38.5 (38.5-38.5) | 25.2 (25.1-25.2) | "
    "9 (9-9) | 69.7 (67.9-71.6) |",
    "| no Redis, stream on, no bytecode (as the image runs it) | 80.0 (80.0-80.0) | "
    "54.9 (54.8-54.9) | 25.1 (25.1-25.2) | 9 (9-9) | 83.8 (83.4-85.4) |",
    "",
    "Breakdown (no Redis, stream off), MiB after each step: the interpreter and site 11.1,",
    "asyncio 21.3, grpc 31.5, protobuf and the generated code 35.2, sqlite3 36.0, aiohttp 46.4,",
    "prometheus_client 47.7, yaml 48.6, redis 55.9, the sidecar's own modules 59.4, started",
    "63.6; the same 9 threads.",
    "",
]

if __name__ == "__main__":
    raise SystemExit(main())
