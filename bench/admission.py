"""Benchmark: the admission latency the injection webhook adds, through the real apiserver.

A local control plane and the operator run as processes; Pods are created through the real
kube-apiserver in two namespaces alike in everything but opt-in: in one the apiserver calls the
operator's webhook over TLS and the Pod comes back injected; in the other it does not call it.
The difference of the create latencies is what the webhook adds. Rounds alternate between
the two namespaces so that machine noise hits both alike. Then Pods are created from several
threads for a fixed time, to measure injected Pods per second. Writes bench/results/admission.md.

    python bench/admission.py [--pods 150] [--rounds 3] [--threads 8] [--seconds 10]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import pathlib
import platform
import statistics
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kubernetes import client, config  # noqa: E402

from stigg_localcluster import build, cluster  # noqa: E402
from stigg_operator import keys  # noqa: E402
from tests.integration.operator import conftest  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "admission.md"


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _pod(name: str) -> client.V1Pod:
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1PodSpec(containers=[client.V1Container(name="app", image="example/app:1")]),
    )


def _create(core: client.CoreV1Api, namespace: str, name: str, injected: bool) -> float:
    began = time.perf_counter()
    pod = core.create_namespaced_pod(namespace, _pod(name))
    elapsed = time.perf_counter() - began
    has_sidecar = any(c.name == keys.SIDECAR_CONTAINER for c in pod.spec.init_containers or [])
    if has_sidecar != injected:
        raise SystemExit(f"Pod {namespace}/{name}: expected injected={injected}")
    return elapsed * 1000


def _namespaces(local: cluster.LocalCluster, api: client.ApiClient) -> None:
    """The opted-in namespace and the plain one, each with a Secret and a StiggEntitlements."""
    core = client.CoreV1Api(api)
    for namespace, label in (("bench-injected", True), ("bench-plain", False)):
        labels = {keys.NAMESPACE_INJECTION_LABEL: "enabled"} if label else None
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace, labels=labels)))
        local.kubectl(
            "wait", "--for=jsonpath={.metadata.name}=default", "serviceaccount/default", "-n", namespace
        )
        conftest.make_secret(api, namespace)
        client.CustomObjectsApi(api).create_namespaced_custom_object(
            keys.GROUP, keys.VERSION, namespace, keys.PLURAL,
            conftest.make_resource("shop", {"apiKeySecretRef": {"name": "stigg-api-key"}}),
        )  # fmt: skip


def _report(
    args: argparse.Namespace,
    latencies: dict[str, list[float]],
    per_round: list[tuple[float, float, float, float]],
    per_second: float,
) -> str:
    injected, plain = latencies["bench-injected"], latencies["bench-plain"]
    added_p50 = [r[0] for r in per_round]
    added_p99 = [r[1] for r in per_round]
    return "\n".join(
        [
            "# Admission latency the injection webhook adds",
            "",
            f"{platform.machine()}, {os.cpu_count()} cores (shared), Python {platform.python_version()}; "
            "local kube-apiserver v1.37 calling the operator's webhook over TLS on loopback. "
            f"{args.rounds} rounds of {args.pods} Pods per namespace, created one at a time, alternating "
            "between an opted-in namespace (webhook called, Pod injected) and a plain one (not called).",
            "",
            "| create latency, ms | p50 | p90 | p99 | max |",
            "| --- | --- | --- | --- | --- |",
            *(
                f"| {label} | {statistics.median(values):.2f} | {_percentile(values, 0.9):.2f} | "
                f"{_percentile(values, 0.99):.2f} | {max(values):.2f} |"
                for label, values in (("opted in (injected)", injected), ("plain (no webhook)", plain))
            ),
            "",
            f"Added by the webhook, per round: p50 {', '.join(f'{v:.2f}' for v in added_p50)} ms "
            f"(median {statistics.median(added_p50):.2f}); p99 {', '.join(f'{v:.2f}' for v in added_p99)} ms "
            f"(median {statistics.median(added_p99):.2f}). Target: p99 under 20 ms.",
            "",
            f"Throughput: {per_second:.1f} injected Pods/s created by {args.threads} threads for "
            f"{args.seconds} s (apiserver, etcd, webhook and client on the same 2 cores).",
            "",
            "Command: `make bench` (or `python bench/admission.py`).",
            "",
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pods", type=int, default=150, help="Pods per namespace per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()

    local = cluster.LocalCluster(
        pathlib.Path(tempfile.mkdtemp(prefix="bench-admission-")), binaries=build.ensure_built()
    )
    local.start()
    operator = None
    try:
        api = config.new_client_from_config(config_file=str(local.kubeconfig_path))
        core = client.CoreV1Api(api)
        local.kubectl("apply", "--server-side", "-f", str(ROOT / "crds"))
        local.kubectl("wait", "--for=condition=Established", "crd/stiggentitlements.sidecar.stigg.io")
        conftest.ensure_namespace(core, conftest.OPERATOR_NAMESPACE)
        operator = conftest.Operator(local, local.state_dir / "operator.log", {"LOG_LEVEL": "WARNING"})
        operator.start(api)
        _namespaces(local, api)
        time.sleep(2)  # the operator's index has seen the resources
        for i in range(20):  # warm both paths (connections, caches)
            _create(core, "bench-injected", f"warm-{i}", injected=True)
            _create(core, "bench-plain", f"warm-{i}", injected=False)

        latencies: dict[str, list[float]] = {"bench-injected": [], "bench-plain": []}
        per_round: list[tuple[float, float, float, float]] = []
        for round_number in range(args.rounds):
            this_round: dict[str, list[float]] = {"bench-injected": [], "bench-plain": []}
            for i in range(args.pods):
                for namespace in latencies:  # interleaved, Pod by Pod
                    ms = _create(
                        core, namespace, f"r{round_number}-{i}", injected=namespace == "bench-injected"
                    )
                    this_round[namespace].append(ms)
            for namespace, values in this_round.items():
                latencies[namespace].extend(values)
            injected, plain = this_round["bench-injected"], this_round["bench-plain"]
            per_round.append(
                (
                    statistics.median(injected) - statistics.median(plain),
                    _percentile(injected, 0.99) - _percentile(plain, 0.99),
                    statistics.median(injected),
                    _percentile(injected, 0.99),
                )
            )
            added_p50, added_p99 = per_round[-1][:2]
            print(
                f"round {round_number + 1}: added p50 {added_p50:.2f} ms, p99 {added_p99:.2f} ms", flush=True
            )

        counter = iter(range(10**9))
        deadline = time.monotonic() + args.seconds

        def burst(worker: int) -> int:
            created = 0
            while time.monotonic() < deadline:
                _create(core, "bench-injected", f"burst-{worker}-{next(counter)}", injected=True)
                created += 1
            return created

        began = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(args.threads) as pool:
            total = sum(pool.map(burst, range(args.threads)))
        per_second = total / (time.monotonic() - began)
    finally:
        if operator is not None:
            operator.stop()
        local.stop()

    report = _report(args, latencies, per_round, per_second)
    RESULTS.write_text(report)
    print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
