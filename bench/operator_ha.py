"""Benchmark: failed admissions while the operator is disrupted, on the real node.

On a local cluster with its node, the operator deployed as users do (``demo/overlay``: two
replicas, a PodDisruptionBudget, /readyz, a preStop drain; ``node_pods.deploy``), Pods are
created at a steady rate in an opted-in namespace (``stigg_devkit.admission_burst``: Pending
Pods, so only admission is exercised) in three phases:

1. **steady**: no disruption (the baseline latency of an admitted, injected create);
2. **rolling restart**: ``kubectl rollout restart`` of the operator ``--delay`` seconds in;
3. **SIGKILL**: the leading replica's container killed by containerd (``ctr tasks kill -s
   SIGKILL``: no preStop, no drain, no release of the Lease) ``--delay`` seconds in; also timed:
   until another replica holds the Lease, and until the killed one is Ready again.

Each failed create is listed with its time and the apiserver's words. Writes
``bench/results/operator-ha.md`` and prints it.

    python bench/operator_ha.py [--pods 500] [--rate 5] [--delay 10] [--steady 100]
                                [--fast-rate 20] [--fast-pods 400]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import tempfile
import threading
import time
from typing import Any

import node_pods
from kubernetes import client
from kubernetes import config as kubeconfig

from stigg_devkit import admission_burst, images
from stigg_localcluster import build, cluster

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "operator-ha.md"
SYSTEM = "stigg-system"
SELECTOR = "app.kubernetes.io/name=stigg-operator"


def _operator_pods(core: client.CoreV1Api) -> list[Any]:
    return [
        p
        for p in core.list_namespaced_pod(SYSTEM, label_selector=SELECTOR).items
        if not p.metadata.deletion_timestamp
    ]


def _holder(local: cluster.LocalCluster) -> str:
    lease = json.loads(local.kubectl("-n", SYSTEM, "get", "lease", "stigg-operator", "-o", "json"))
    return str(lease["spec"].get("holderIdentity") or "")


def _ready(pod: Any) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])


def _phase(  # noqa: PLR0917 -- where, how many, and what disrupts it
    core: client.CoreV1Api,
    local: cluster.LocalCluster,
    args: argparse.Namespace,
    prefix: str,
    count: int,
    disrupt: Any = None,
    rate: float | None = None,
) -> tuple[list[admission_burst.Outcome], dict[str, Any]]:
    notes: dict[str, Any] = {}
    namespace = node_pods.opted_in(local, f"ha-{prefix}")  # fresh: no waiting for the last one's deletion
    thread = None
    if disrupt is not None:
        thread = threading.Thread(target=disrupt, args=(notes,))
        thread.start()
    notes["burst"] = time.monotonic()
    outcomes = admission_burst.run(core, namespace, rate=rate or args.rate, count=count, prefix=prefix)
    if thread is not None:
        thread.join()
    return outcomes, notes


def _row(label: str, outcomes: list[admission_burst.Outcome]) -> str:
    s = admission_burst.summary(outcomes)
    return (
        f"| {label} | {s['created']} | {s['failed']} | {s['not_injected']} | {s['p50_ms']:.0f} | "
        f"{s['p90_ms']:.0f} | {s['p99_ms']:.0f} | {s['max_ms']:.0f} |"
    )


def _failures(label: str, outcomes: list[admission_burst.Outcome], origin: float) -> list[str]:
    failed = [o for o in outcomes if o.failed]
    if not failed:
        return [f"{label}: no failed admission."]
    lines = [
        f"{label}: {len(failed)} failed (seconds after the disruption began, and the apiserver's words):",
        "",
    ]
    lines += [f"- {o.started - origin:+.2f} s ({o.seconds * 1000:.0f} ms): {o.error}" for o in failed]
    return lines


def _slowest(label: str, outcomes: list[admission_burst.Outcome], origin: float) -> list[str]:
    slow = sorted(outcomes, key=lambda o: o.seconds, reverse=True)[:3]
    return [
        f"- {label}: " + ", ".join(f"{o.seconds * 1000:.0f} ms at {o.started - origin:+.1f} s" for o in slow)
    ]


def main() -> int:  # noqa: PLR0915 -- one linear script: phases, then the report
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pods", type=int, default=500, help="Pods per disrupted phase")
    parser.add_argument("--rate", type=float, default=5.0, help="creates per second")
    parser.add_argument(
        "--delay", type=float, default=10.0, help="seconds into a phase before the disruption"
    )
    parser.add_argument("--steady", type=int, default=100, help="Pods of the undisturbed phase")
    parser.add_argument(
        "--fast-rate", type=float, default=20.0, help="creates per second, fast SIGKILL phase"
    )
    parser.add_argument("--fast-pods", type=int, default=400, help="Pods of the fast SIGKILL phase")
    args = parser.parse_args()
    binaries = build.ensure_built(node=True)
    built = images.ensure_built()

    with tempfile.TemporaryDirectory(prefix="bench-ha-") as scratch:
        local = cluster.LocalCluster(pathlib.Path(scratch), binaries=binaries, node=True)
        local.start()
        try:
            local.import_images([i.archive for i in built.values()])
            node_pods.deploy(local)
            core = client.CoreV1Api(kubeconfig.new_client_from_config(config_file=str(local.kubeconfig_path)))
            print("steady phase", flush=True)
            steady, _ = _phase(core, local, args, "steady", args.steady)

            def rolling(notes: dict[str, Any]) -> None:
                time.sleep(args.delay)
                notes["began"] = time.monotonic()
                local.kubectl("-n", SYSTEM, "rollout", "restart", "deployment/stigg-operator")
                local.kubectl(
                    "-n", SYSTEM, "rollout", "status", "deployment/stigg-operator", "--timeout=600s"
                )
                notes["seconds"] = time.monotonic() - notes["began"]

            print("rolling restart phase", flush=True)
            rolled, rolled_notes = _phase(core, local, args, "rolled", args.pods, rolling)
            rolled_origin = rolled_notes["began"] - rolled_notes["burst"]

            def kill(notes: dict[str, Any], *, leader: bool = True) -> None:
                time.sleep(args.delay)
                holder = _holder(local)
                (victim,) = [
                    p for p in _operator_pods(core) if holder.startswith(f"{p.metadata.name}_") == leader
                ]
                (status,) = victim.status.container_statuses
                restarts = status.restart_count
                notes["began"] = time.monotonic()
                local.ctr("tasks", "kill", "--signal", "SIGKILL", status.container_id.split("://", 1)[1])
                if leader:
                    while _holder(local) in {holder, ""}:
                        time.sleep(0.1)
                    notes["takeover"] = time.monotonic() - notes["began"]
                while True:
                    pod = core.read_namespaced_pod(victim.metadata.name, SYSTEM)
                    if pod.status.container_statuses[0].restart_count > restarts and _ready(pod):
                        break
                    time.sleep(0.2)
                notes["back"] = time.monotonic() - notes["began"]

            def in_flight(outcomes: list[admission_burst.Outcome], notes: dict[str, Any]) -> int:
                origin = notes["began"] - notes["burst"]
                return sum(o.started <= origin < o.started + o.seconds for o in outcomes)

            print("SIGKILL phase", flush=True)
            killed, killed_notes = _phase(core, local, args, "killed", args.pods, kill)
            killed_origin = killed_notes["began"] - killed_notes["burst"]
            killed_in_flight = in_flight(killed, killed_notes)
            print("fast SIGKILL phase", flush=True)
            fast, fast_notes = _phase(
                core,
                local,
                args,
                "fast",
                args.fast_pods,
                lambda notes: kill(notes, leader=False),
                rate=args.fast_rate,
            )
            fast_origin = fast_notes["began"] - fast_notes["burst"]
            fast_in_flight = in_flight(fast, fast_notes)
            load = os.getloadavg()[0]
        finally:
            local.stop()

    versions = build.pinned_versions()
    lines = [
        "# The operator's admissions through a rolling restart and a SIGKILL",
        "",
        " ".join(
            [
                f"Measured by `python bench/operator_ha.py --pods {args.pods} --rate {args.rate:g}",
                f"--delay {args.delay:g} --steady {args.steady}` on {platform.node()}",
                f"({os.cpu_count()} cores, Linux {platform.release()}),",
                f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, on the local cluster's real node",
                f"(Kubernetes {versions.kubernetes}, containerd {versions.containerd}).",
                "The operator as `manifests/` deploys it: two replicas, both serving the webhook",
                "(failurePolicy Fail), one leading on the Lease, readiness `/readyz`, a 5 s preStop sleep.",
                f"Pods are created at {args.rate:g}/s by 8 worker threads (`stigg_devkit.admission_burst`);",
                "they stay Pending (a node label no node has), so only admission is measured.",
                f"1-minute load average at the end: {load:.1f}.",
            ]
        ),
        "",
        "| phase | creates | failed | admitted without sidecar | p50 ms | p90 ms | p99 ms | max ms |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
        _row("steady (no disruption)", steady),
        _row("rolling restart", rolled),
        _row("SIGKILL of the leader", killed),
        _row(f"SIGKILL of the follower, at {args.fast_rate:g}/s", fast),
        "",
        f"Rolling restart: `kubectl rollout restart` {args.delay:g} s in; the rollout took "
        f"{rolled_notes['seconds']:.1f} s (both replicas replaced, one at a time, each new one Ready "
        "before an old one stops).",
        "",
        *_failures("Rolling restart", rolled, rolled_origin),
        "",
        f"SIGKILL: the leader's container killed {args.delay:g} s in, with {killed_in_flight} create(s) "
        f"in flight; another replica held the Lease {killed_notes['takeover']:.1f} s later (its 15 s "
        f"duration, unrenewed), and the killed one was Ready again after {killed_notes['back']:.1f} s "
        "(container restart, then /readyz).",
        "",
        *_failures("SIGKILL", killed, killed_origin),
        "",
        f"Fast SIGKILL: at {args.fast_rate:g} creates/s, the follower's container killed "
        f"{args.delay:g} s in, with {fast_in_flight} create(s) in flight; Ready again after "
        f"{fast_notes['back']:.1f} s.",
        "",
        *_failures("Fast SIGKILL", fast, fast_origin),
        "",
        "The slowest creates of each disrupted phase (start, seconds after the disruption began):",
        "",
        *_slowest("rolling restart", rolled, rolled_origin),
        *_slowest("SIGKILL", killed, killed_origin),
        *_slowest("fast SIGKILL", fast, fast_origin),
    ]
    report = "\n".join(lines) + "\n"
    RESULTS.write_text(report)
    print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
