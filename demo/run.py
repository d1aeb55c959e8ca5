"""The end-to-end demo (``make demo``) on the local control plane of real Kubernetes components.

Today it shows the foundation: a cluster of etcd, kube-apiserver and kube-controller-manager
starts on loopback; the StiggEntitlements CRD is applied with a resource; a namespace opted in
to injection gets a Deployment; the real controllers make its ReplicaSet and Pods. It grows as
the sidecar and the operator land.

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

from stigg_localcluster import build, cluster

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
