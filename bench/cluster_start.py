"""Benchmark: warm start-to-ready and stop time of the local control plane.

Starts and stops a cluster ``--runs`` times with the binaries already built, and reports the
median, p90, min and max of (a) ``LocalCluster.start()`` until ready (apiserver ``/readyz``,
controller-manager ``/healthz``, ``default`` ServiceAccount) and (b) ``stop()`` until no process
is left. Writes a Markdown report to ``bench/results/cluster-start.md`` and prints it.

    python bench/cluster_start.py [--runs 10]
"""

from __future__ import annotations

import argparse
import os
import pathlib
import platform
import statistics
import tempfile
import time

from stigg_localcluster import build, cluster, processes

RESULTS = pathlib.Path(__file__).resolve().parent / "results" / "cluster-start.md"


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))
    return ordered[index]


def _row(label: str, values: list[float]) -> str:
    return (
        f"| {label} | {statistics.median(values):.2f} | {_percentile(values, 0.9):.2f} | "
        f"{min(values):.2f} | {max(values):.2f} |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()

    binaries = build.ensure_built()
    starts: list[float] = []
    stops: list[float] = []
    loads: list[float] = []
    for run in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="bench-cluster-") as scratch:
            local = cluster.LocalCluster(pathlib.Path(scratch), binaries=binaries)
            loads.append(os.getloadavg()[0])
            began = time.perf_counter()
            local.start()
            starts.append(time.perf_counter() - began)
            began = time.perf_counter()
            local.stop()
            stops.append(time.perf_counter() - began)
            if list(processes.find_referencing(pathlib.Path(scratch))):
                raise SystemExit("a stopped cluster left processes behind")
        print(f"run {run + 1}/{args.runs}: start {starts[-1]:.2f}s, stop {stops[-1]:.2f}s", flush=True)

    versions = build.pinned_versions()
    report = "\n".join(
        [
            "# Local control plane: warm start-to-ready and stop",
            "",
            f"Kubernetes {versions.kubernetes}, etcd {versions.etcd}; "
            f"{args.runs} runs, binaries already built.",
            f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
            f"1-minute load average before the runs: median {statistics.median(loads):.2f}, "
            f"max {max(loads):.2f} (shared machine).",
            "",
            "| seconds | median | p90 | min | max |",
            "| --- | --- | --- | --- | --- |",
            _row("start → ready", starts),
            _row("stop → no process left", stops),
            "",
            "Target: start-to-ready under 15 s. Command: `make bench` (or `python bench/cluster_start.py`).",
            "",
        ]
    )
    RESULTS.write_text(report)
    print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
