"""Benchmark: the local cluster's node, start to Ready, and injected Pods, create to Ready.

1. Starts and stops a cluster with its node ``--starts`` times (binaries built) and reports
   each start's milestones: the sandbox made, the apiserver ready, kubelet started (after
   containerd answered and the pause image was imported), and the Node Ready.
2. On one more cluster: imports the images, deploys the operator as users do (``kubectl apply
   -k demo/overlay``), and creates ``--pods`` application Pods (``demo/app.py`` on the sidecar
   image) in a namespace opted in to injection, one at a time, each timed from its create
   request until its Ready condition (the native sidecar's startup probe passed, then the
   app's readiness probe); then as many at once, timed until the last is Ready. The sidecar
   runs offline (defaults only), so no upstream is involved.

Writes ``bench/results/node-pods.md`` and prints it.

    python bench/node_pods.py [--starts 5] [--pods 20]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import statistics
import tempfile
import time
from typing import Any

from kubernetes import client
from kubernetes import config as kubeconfig

from stigg_devkit import images
from stigg_localcluster import build, cluster

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "node-pods.md"
NAMESPACE = "bench"


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _row(label: str, values: list[float]) -> str:
    return (
        f"| {label} | {statistics.median(values):.2f} | {_percentile(values, 0.9):.2f} | "
        f"{min(values):.2f} | {max(values):.2f} |"
    )


def _pod(name: str, image: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": image,
                    "imagePullPolicy": "Never",
                    "command": ["python", "/app/app.py"],
                    "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8000}, "periodSeconds": 1},
                    "volumeMounts": [{"name": "app", "mountPath": "/app", "readOnly": True}],
                }
            ],
            "volumes": [{"name": "app", "configMap": {"name": "demo-app"}}],
        },
    }


def _ready(pod: Any) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])


def deploy(local: cluster.LocalCluster) -> None:
    """The CRDs and `demo/overlay` as users apply them, then the namespace `bench` opted in, with
    the demo app's code and an offline StiggEntitlements the operator has seen."""
    local.kubectl("apply", "--server-side", "-f", str(ROOT / "crds"))
    local.kubectl(
        "wait", "--for=condition=Established", "crd/stiggentitlements.sidecar.stigg.io", "--timeout=30s"
    )
    local.kubectl("apply", "-k", str(ROOT / "demo" / "overlay"))
    local.kubectl("-n", "stigg-system", "rollout", "status", "deployment/stigg-operator", "--timeout=180s")
    opted_in(local, NAMESPACE)
    local.kubectl(
        "-n", NAMESPACE, "create", "configmap", "demo-app", f"--from-file={ROOT / 'demo' / 'app.py'}"
    )


def opted_in(local: cluster.LocalCluster, name: str) -> str:
    """A new namespace opted in to injection, with an offline StiggEntitlements ``bench`` the
    operator has seen; its name."""
    local.kubectl("create", "namespace", name)
    local.kubectl("label", "namespace", name, "sidecar.stigg.io/injection=enabled")
    resource = {
        "apiVersion": "sidecar.stigg.io/v1alpha1",
        "kind": "StiggEntitlements",
        "metadata": {"name": "bench", "namespace": name},
        "spec": {"offline": True, "defaults": {"feature-sso": {"hasAccess": True}}},
    }
    local.kubectl("apply", "-f", "-", input_text=json.dumps(resource))
    deadline = time.monotonic() + 60
    while '"observedGeneration":1' not in local.kubectl(
        "-n", name, "get", "stiggentitlements", "bench", "-o", "jsonpath={.status}"
    ).replace(" ", ""):
        if time.monotonic() > deadline:
            raise SystemExit(f"the operator did not see the resource in {name}")
        time.sleep(0.2)
    return name


def _wait_ready(core: client.CoreV1Api, names: list[str], timeout: float = 300) -> dict[str, float]:
    """Poll until every named Pod is Ready; the monotonic time each was first seen Ready."""
    seen: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    while len(seen) < len(names):
        if time.monotonic() > deadline:
            raise SystemExit(f"Pods not Ready within {timeout:.0f}s: {sorted(set(names) - set(seen))}")
        for pod in core.list_namespaced_pod(NAMESPACE).items:
            if pod.metadata.name in names and pod.metadata.name not in seen and _ready(pod):
                seen[pod.metadata.name] = time.monotonic()
        time.sleep(0.05)
    return seen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--pods", type=int, default=20)
    args = parser.parse_args()
    binaries = build.ensure_built(node=True)
    built = images.ensure_built()
    image = built["sidecar"].ref

    milestones: dict[str, list[float]] = {}
    stops: list[float] = []
    for run in range(args.starts):
        with tempfile.TemporaryDirectory(prefix="bench-node-") as scratch:
            local = cluster.LocalCluster(pathlib.Path(scratch), binaries=binaries, node=True)
            local.start()
            for name, seconds in local.timings.items():
                milestones.setdefault(name, []).append(seconds)
            began = time.monotonic()
            local.stop()
            stops.append(time.monotonic() - began)
        print(f"start {run + 1}/{args.starts}: {local.timings}", flush=True)

    with tempfile.TemporaryDirectory(prefix="bench-node-") as scratch:
        local = cluster.LocalCluster(pathlib.Path(scratch), binaries=binaries, node=True)
        local.start()
        try:
            local.import_images([i.archive for i in built.values()])
            deploy(local)
            core = client.CoreV1Api(kubeconfig.new_client_from_config(config_file=str(local.kubeconfig_path)))
            one_by_one: list[float] = []
            for number in range(args.pods):
                name = f"one-{number}"
                began = time.monotonic()
                core.create_namespaced_pod(NAMESPACE, _pod(name, image))
                one_by_one.append(_wait_ready(core, [name])[name] - began)
                print(f"pod {number + 1}/{args.pods}: {one_by_one[-1]:.2f}s", flush=True)
            load_sequential = os.getloadavg()[0]
            for number in range(args.pods):
                core.delete_namespaced_pod(f"one-{number}", NAMESPACE, grace_period_seconds=0)
            burst_names = [f"burst-{number}" for number in range(args.pods)]
            began = time.monotonic()
            for name in burst_names:
                core.create_namespaced_pod(NAMESPACE, _pod(name, image))
            ready_at = _wait_ready(core, burst_names)
            burst = [ready_at[name] - began for name in burst_names]
            load_burst = os.getloadavg()[0]
        finally:
            local.stop()

    versions = build.pinned_versions()
    labels = {
        "sandbox": "namespaces and cgroup root made",
        "apiserver": "apiserver ready",
        "kubelet": "kubelet started (containerd up, pause imported)",
        "ready": "Node Ready (cluster ready)",
    }
    lines = [
        "# The local cluster's node: start to Ready, and injected Pods, create to Ready",
        "",
        f"Measured by `python bench/node_pods.py --starts {args.starts} --pods {args.pods}` on "
        f"{platform.node()} ({os.cpu_count()} cores, Linux {platform.release()}), "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. Kubernetes "
        f"{versions.kubernetes}, containerd {versions.containerd}, Debian's runc and CNI plugins,"
        " all inside the harness's own namespaces (`stigg_localcluster.sandbox`).",
        "",
        f"## Cluster start, with its node ({args.starts} starts; seconds since `start()` began)",
        "",
        "| milestone | median | p90 | min | max |",
        "| --- | --- | --- | --- | --- |",
        *[_row(labels.get(name, name), values) for name, values in milestones.items()],
        _row("stop (every process, mount, namespace and cgroup gone)", stops),
        "",
        "Node Ready after kubelet started: "
        + ", ".join(
            f"{ready - kubelet:.2f}s"
            for kubelet, ready in zip(milestones["kubelet"], milestones["ready"], strict=True)
        ),
        "",
        f"## Injected Pods, create to Ready ({args.pods} Pods; seconds)",
        "",
        "Each Pod: the app container (`demo/app.py` on the sidecar image) and the injected native sidecar; "
        "Ready once the sidecar's startup probe and then the app's readiness probe pass.",
        "",
        "| how | median | p90 | min | max |",
        "| --- | --- | --- | --- | --- |",
        _row(f"one at a time (load {load_sequential:.1f})", one_by_one),
        _row(f"{args.pods} at once, each (load {load_burst:.1f})", burst),
        "",
        f"{args.pods} created at once: the last Ready {max(burst):.1f}s after the first create.",
        "",
        "Most of a Pod's time is spent before the sidecar's startup probe passes: the Pod's events "
        "show the probe refused for several seconds while the sidecar's Python imports grpc, "
        "aiohttp and protobuf, and each Pod starts two Python processes (sidecar and app) on 2 "
        "shared cores, under the load shown (1-minute load average at the end of each part).",
    ]
    report = "\n".join(lines) + "\n"
    RESULTS.write_text(report)
    print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
