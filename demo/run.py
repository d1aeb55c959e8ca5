"""The end-to-end demo (``make demo``) on the local control plane of real Kubernetes components.

Part 1, the platform: a cluster of etcd, kube-apiserver and kube-controller-manager starts on
loopback; the StiggEntitlements CRD is applied with a resource; a namespace opted in to
injection gets a Deployment; the real controllers make its ReplicaSet and Pods.

Part 2, the sidecar: the entitlement sidecar runs beside the upstream emulator (a stand-in for
Stigg's API, 100 ms per call like the real Edge API) and answers checks: a miss, then cache
hits, a metered limit, a usage report, an invalid request, and then, with the upstream killed,
answers from the cache and from the static defaults. It grows as the operator lands (the
sidecar injected into the Pods of part 1).

    python demo/run.py           run the demo and stop the cluster afterwards
    python demo/run.py --keep    leave the cluster running and print the KUBECONFIG export
"""

from __future__ import annotations

import argparse
import pathlib
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from typing import TypeVar

import grpc

from stigg_localcluster import build, cluster
from stigg_sidecar import client
from stigg_sidecar import launcher as sidecar_launcher
from stigg_sidecar.emulator import catalog
from stigg_sidecar.emulator import launcher as emulator_launcher

T = TypeVar("T")
HERE = pathlib.Path(__file__).resolve().parent
CRDS = HERE.parent / "crds"


def step(text: str) -> None:
    print(f"\n==> {text}", flush=True)


def show(local: cluster.LocalCluster, *args: str) -> str:
    print(f"$ kubectl {' '.join(args)}", flush=True)
    output = local.kubectl(*args)
    print(output.rstrip(), flush=True)
    return output


def wait_for_pods(local: cluster.LocalCluster, namespace: str, count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        names = local.kubectl("get", "pods", "-n", namespace, "-o", "name").split()
        if len(names) >= count:
            return
        time.sleep(0.2)
    raise SystemExit(f"demo failed: {count} Pods did not appear in {namespace} within {timeout:.0f}s")


def run(local: cluster.LocalCluster) -> None:
    step("Kubernetes components (real binaries, built from the Go module proxy)")
    show(local, "version")
    show(local, "get", "--raw", "/readyz", "--request-timeout=10s")

    step("Apply the StiggEntitlements CRD")
    show(local, "apply", "--server-side", "-f", str(CRDS))
    show(
        local,
        "wait",
        "--for=condition=Established",
        "crd/stiggentitlements.sidecar.stigg.io",
        "--timeout=30s",
    )

    step("A namespace opted in to injection, its StiggEntitlements and an unchanged Deployment")
    show(local, "apply", "-f", str(HERE / "namespace.yaml"))
    local.kubectl("wait", "--for=jsonpath={.metadata.name}=default", "serviceaccount/default", "-n", "shop")
    show(local, "apply", "-f", str(HERE / "stiggentitlements.yaml"))
    show(local, "apply", "-f", str(HERE / "deployment.yaml"))

    step("The real controller-manager made the ReplicaSet and the Pods (Pending: no kubelet here)")
    wait_for_pods(local, "shop", 2)
    show(local, "get", "namespace", "shop", "--show-labels")
    show(local, "get", "stiggentitlements", "-n", "shop")
    show(local, "get", "deployments,replicasets,pods", "-n", "shop", "-o", "wide")
    owners = local.kubectl(
        "get",
        "pods",
        "-n",
        "shop",
        "-o",
        "jsonpath={range .items[*]}{.metadata.ownerReferences[0].kind}{'\\n'}{end}",
    ).split()
    if owners != ["ReplicaSet"] * 2:
        raise SystemExit(f"demo failed: expected 2 Pods owned by a ReplicaSet, got owners {owners}")


def expect(condition: bool, story: str) -> None:
    if not condition:
        raise SystemExit(f"demo failed: {story}")


def timed(call: Callable[[], T]) -> tuple[T, float]:
    began = time.perf_counter()
    result = call()
    return result, (time.perf_counter() - began) * 1000


def run_sidecar(scratch: pathlib.Path) -> None:
    step("Start the upstream emulator (Stigg's Edge and GraphQL APIs, 100 ms per call) and the sidecar")
    emulator = emulator_launcher.start(catalog_path=catalog.SAMPLE_PATH, latency_ms=100)
    print(f"emulator at {emulator.base_url}, catalog {catalog.SAMPLE_PATH.name}")
    sidecar = sidecar_launcher.start(
        {
            "SERVER_API_KEY": emulator.api_key,
            "EDGE_API_URL": emulator.base_url,
            "API_URL": emulator.base_url,
            "WS_ENABLED": "false",
            "ENTITLEMENTS_FALLBACK": '{"feature-sso": {"hasAccess": true}}',
            "SIDECAR_UPSTREAM_RETRIES": "0",
        },
        scratch / "sidecar.log",
    )
    ready = sidecar.http_json("/readyz")
    print(f"sidecar gRPC at {sidecar.grpc_target}, probes at {sidecar.http_url}: /readyz {ready}")
    try:
        with client.SidecarClient(sidecar.grpc_target, timeout=5) as checks:
            step("Checks: the first goes upstream once, the next come from the cache")
            first, first_ms = timed(lambda: checks.get_boolean_entitlement("customer-pro", "feature-sso"))
            hits = [
                timed(lambda: checks.get_boolean_entitlement("customer-pro", "feature-sso"))
                for _ in range(20)
            ]
            again, again_ms = hits[-1][0], sorted(ms for _, ms in hits)[len(hits) // 2]
            print(f"customer-pro may use feature-sso: {first.has_access} ({first_ms:.1f} ms, a miss)")
            print(
                f"customer-pro may use feature-sso: {again.has_access} ({again_ms:.2f} ms, median of 20 hits)"
            )
            expect(first.has_access and again.has_access and again_ms < first_ms, "cache hit not faster")

            metered = checks.get_metered_entitlement(
                "customer-free", "feature-api-calls", requested_usage=800
            )
            used, limit = metered.entitlement.current_usage, metered.entitlement.usage_limit
            reason = pb_reason(metered.access_denied_reason)
            print(f"customer-free asks for 800 API calls with {used:.0f} of {limit:.0f} used: "
                  f"has_access={metered.has_access}, reason={reason}")  # fmt: skip
            expect(not metered.has_access, "800 more calls should exceed the limit")

            report = checks.report_usage("customer-free", "feature-api-calls", 700)
            after = checks.get_metered_entitlement("customer-free", "feature-api-calls", requested_usage=1)
            print(f"reported 700 calls: upstream says {report.current_usage:.0f} used; "
                  f"the next check sees {after.entitlement.current_usage:.0f}")  # fmt: skip
            expect(after.entitlement.current_usage == 950, "the check after a report must see it")

            try:
                checks.get_metered_entitlement("customer-free", "feature-api-calls", requested_usage=-5)
            except grpc.RpcError as error:
                print(f"an invalid request: {error.code().name}: {error.details()}")

            step("Kill the upstream: the sidecar still answers, from its cache and then from its defaults")
            emulator.stop()
            cached = checks.get_boolean_entitlement("customer-pro", "feature-sso")
            print(f"customer-pro (cached): has_access={cached.has_access}, is_fallback={cached.is_fallback}")
            unknown = checks.get_boolean_entitlement("customer-enterprise", "feature-sso")
            print(f"customer-enterprise (never seen): has_access={unknown.has_access}, "
                  f"is_fallback={unknown.is_fallback} (ENTITLEMENTS_FALLBACK)")  # fmt: skip
            expect(cached.has_access and not cached.is_fallback, "the cached answer must survive the outage")
            expect(
                unknown.has_access and unknown.is_fallback, "the default must be served, marked as fallback"
            )
        for line in sidecar.metrics().splitlines():
            if line.startswith(
                ("sidecar_cache_hits_total", "sidecar_cache_misses_total", "sidecar_fallbacks_served")
            ):
                print(line)
    finally:
        sidecar.stop()
        emulator.stop()


def pb_reason(value: int) -> str:
    from stigg_sidecar.v1 import sidecar_pb2  # noqa: PLC0415

    return sidecar_pb2.AccessDeniedReason.Name(value)  # type: ignore[arg-type]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="leave the cluster running afterwards")
    args = parser.parse_args()

    binaries = build.ensure_built()
    state_dir = pathlib.Path(tempfile.mkdtemp(prefix="stigg-demo-"))
    local = cluster.LocalCluster(state_dir, attached=not args.keep, binaries=binaries)
    step("Start the local control plane: etcd, kube-apiserver, kube-controller-manager on loopback")
    started = time.monotonic()
    local.start()
    print(f"ready at {local.server} in {time.monotonic() - started:.1f}s (state in {state_dir})", flush=True)
    try:
        run(local)
        run_sidecar(state_dir)
    except BaseException:
        local.stop()
        shutil.rmtree(state_dir, ignore_errors=True)
        raise
    if args.keep:
        step("The cluster keeps running. Use it, then stop it:")
        print(f"export KUBECONFIG={local.kubeconfig_path}")
        print(f"stigg-localcluster down --state-dir {state_dir}")
    else:
        local.stop()
        shutil.rmtree(state_dir, ignore_errors=True)
        step("Demo complete: the cluster is stopped.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
