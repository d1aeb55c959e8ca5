"""ghz (github.com/bojand/ghz), the standard gRPC load generator, for the sidecar benchmark.

The benchmark builds it itself from the Go module proxy (``go install``, ``GOTOOLCHAIN=local``)
into ``~/.cache/stigg-bench/ghz-VERSION/``, only when it is missing, and runs it with the
sidecar's own proto file and a JSON array of requests, which ghz sends round-robin (request
``n`` is element ``n mod len``): the same customers in the same order as our load generator.
The helpers that build the command line, the requests and the rows of the report are pure.
"""

from __future__ import annotations

import json
import os
import pathlib
import resource
import shutil
import subprocess
from collections.abc import Mapping
from typing import Any

MODULE = "github.com/bojand/ghz"
VERSION = "v0.121.0"
PACKAGE = f"{MODULE}/cmd/ghz@{VERSION}"
PROTO_ROOT = "proto"
PROTO = "proto/stigg/sidecar/v1/sidecar.proto"
CALL = "stigg.sidecar.v1.SidecarService/GetBooleanEntitlement"


def cache_dir() -> pathlib.Path:
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = pathlib.Path(xdg).expanduser() if xdg else pathlib.Path.home() / ".cache"
    return base / "stigg-bench" / f"ghz-{VERSION}"


def install_command(gobin: str) -> str:
    """The build, as a shell line for the report."""
    return f"GOTOOLCHAIN=local GOBIN={gobin} go install {PACKAGE}"


def ensure_built() -> pathlib.Path:
    """The ghz binary, built on first use (about a minute and a half with an empty module cache)."""
    binary = cache_dir() / "ghz"
    if binary.exists():
        return binary
    partial = cache_dir().with_name(cache_dir().name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    env = {**os.environ, "GOTOOLCHAIN": "local", "GOBIN": str(partial)}
    print(f"building ghz: go install {PACKAGE}", flush=True)
    completed = subprocess.run(
        ["go", "install", PACKAGE],
        cwd=partial,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    if completed.returncode != 0:
        raise SystemExit(f"go install {PACKAGE} failed:\n{completed.stderr[-4000:]}")
    binary.parent.mkdir(parents=True, exist_ok=True)
    (partial / "ghz").replace(binary)
    shutil.rmtree(partial, ignore_errors=True)
    return binary


def requests(customers: int, feature: str = "feature-sso") -> list[dict[str, str]]:
    """GetBooleanEntitlement requests for customer-0 ... customer-N-1, in that order."""
    return [{"customer_id": f"customer-{i}", "feature_id": feature} for i in range(customers)]


def command(
    ghz: str,
    target: str,
    data_file: str,
    *,
    proto_root: str = PROTO_ROOT,
    proto: str = PROTO,
    core: int,
    concurrency: int,
    seconds: int,
    rps: int = 0,
) -> list[str]:
    """ghz's command line, pinned to ``core`` with taskset: ``concurrency`` workers on one
    connection for ``seconds`` (closed loop), or at most ``rps`` calls per second. Calls still in
    flight at the end are left out (``--duration-stop ignore``); 5 s deadline, like ours."""
    argv = ["taskset", "-c", str(core), ghz, "--insecure", "--proto", proto, "--import-paths", proto_root]
    argv += ["--call", CALL, "--data-file", data_file, "-c", str(concurrency)]
    if rps:
        argv += ["--rps", str(rps)]
    argv += ["-z", f"{seconds}s", "-t", "5s", "--duration-stop", "ignore", "--cpus", "1", "--format", "json"]
    return [*argv, target]


def row(report: Mapping[str, Any]) -> dict[str, float]:
    """The report's figures from ghz's JSON report: calls, errors (calls whose status was not OK),
    checks/s and latency percentiles in µs (ghz gives nanoseconds; max is its slowest call)."""
    count = int(report["count"])
    codes: Mapping[str, int] = report.get("statusCodeDistribution") or {}
    distribution = report.get("latencyDistribution") or []
    percentiles = {entry["percentage"]: entry["latency"] / 1000 for entry in distribution}
    missing = {50, 90, 99} - percentiles.keys()
    if count == 0 or missing:
        raise ValueError(f"ghz reported {count} calls and no percentiles {sorted(missing)}")
    return {
        "calls": count,
        "errors": count - int(codes.get("OK", 0)),
        "throughput": float(report["rps"]),
        "p50_us": percentiles[50],
        "p90_us": percentiles[90],
        "p99_us": percentiles[99],
        "max_us": report["slowest"] / 1000,
    }


def run(argv: list[str], cwd: pathlib.Path) -> dict[str, float]:
    """Run ghz; its row, with the CPU it used itself per call (``client_cpu_us_per_call``)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    completed = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False, timeout=300)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode != 0:
        raise SystemExit(f"ghz failed ({completed.returncode}):\n{completed.stderr[-4000:]}")
    result = row(json.loads(completed.stdout))
    if result["errors"]:
        raise SystemExit(f"ghz saw {int(result['errors'])} calls fail against {argv[-1]}")
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    result["client_cpu_us_per_call"] = cpu / result["calls"] * 1e6
    return result
