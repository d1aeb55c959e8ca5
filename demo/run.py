"""The end-to-end demo (``make demo``) on the local control plane of real Kubernetes components.

1. The platform: etcd, kube-apiserver and kube-controller-manager start on loopback; the
   StiggEntitlements CRD is applied and the operator starts; a namespace opted in to injection
   gets a Secret, a StiggEntitlements and an unchanged Deployment; the real controller-manager
   makes the Pods and the apiserver has the operator's webhook inject the sidecar into them.
2. The sidecar: the injected sidecar of one Pod is started from its Pod spec (the Pod runner
   stands in for the kubelet) beside the upstream emulator (a stand-in for Stigg's API, 100 ms
   per call like the real Edge API); its probes pass and it answers checks: a miss, cache hits,
   a metered limit, a usage report, an invalid request; a plan upgrade upstream reaches it by the
   real-time stream in milliseconds; then, with the upstream killed, it answers from its cache and
   from the defaults, and a defaults edit in the resource reaches it without a restart.
3. A workload opt-in (between the two): in a namespace that is not opted in, annotating one
   Deployment gets its Pods the sidecar; re-applying the team's manifest keeps it, with no rollout.

    python demo/run.py           run the demo and stop everything afterwards
    python demo/run.py --keep    leave the cluster running and print the KUBECONFIG export
"""

from __future__ import annotations

import argparse
import json
import pathlib
import shutil
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from typing import TypeVar

import grpc
from kubernetes import client as kube
from kubernetes import config as kubeconfig

from stigg_devkit import operator_launcher
from stigg_emulator import catalog
from stigg_emulator import launcher as emulator_launcher
from stigg_localcluster import build, cluster, podrunner
from stigg_operator import keys
from stigg_sidecar import client

T = TypeVar("T")
HERE = pathlib.Path(__file__).resolve().parent
CRDS = HERE.parent / "crds"
SIDECAR_IMAGE = "ghcr.io/stigg-entitlements/sidecar:0.1.0"


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


def wait_until(probe: Callable[[], bool], what: str, timeout: float = 60, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise SystemExit(f"demo failed: {what} within {timeout:.0f}s")
        time.sleep(interval)


def run(
    local: cluster.LocalCluster, api: kube.ApiClient, emulator: emulator_launcher.RunningEmulator
) -> None:
    step("Kubernetes components (real binaries, built from the Go module proxy)")
    show(local, "version")
    show(local, "get", "--raw", "/readyz", "--request-timeout=10s")

    step("The StiggEntitlements CRD is installed and the operator runs (its webhook on a loopback port)")
    show(local, "get", "crd", "stiggentitlements.sidecar.stigg.io")
    show(local, "get", "mutatingwebhookconfigurations")

    step("A namespace opted in to injection, its Secret and StiggEntitlements, and an unchanged Deployment")
    show(local, "apply", "-f", str(HERE / "namespace.yaml"))
    local.kubectl("wait", "--for=jsonpath={.metadata.name}=default", "serviceaccount/default", "-n", "shop")
    print(
        "$ kubectl create secret generic stigg-server-api-key -n shop --from-literal=SERVER_API_KEY=<the key>"
    )
    local.kubectl(
        "create", "secret", "generic", "stigg-server-api-key", "-n", "shop",
        f"--from-literal=SERVER_API_KEY={emulator.api_key}",
    )  # fmt: skip
    show(local, "apply", "-f", str(HERE / "stiggentitlements.yaml"))
    upstream = {"spec": {"upstream": {
        "edgeApiUrl": emulator.base_url, "apiUrl": emulator.base_url, "wsUrl": emulator.ws_url,
    }}}  # fmt: skip
    show(local, "patch", "stigg", "shop", "-n", "shop", "--type=merge", "-p", json.dumps(upstream))
    wait_until(lambda: "True" in local.kubectl("get", "stigg", "shop", "-n", "shop", "-o",
               "jsonpath={.status.conditions[?(@.type=='Ready')].status}"), "the resource to be Ready")  # fmt: skip
    show(local, "get", "stigg", "-n", "shop")
    show(local, "get", "configmap", keys.configmap_name("shop"), "-n", "shop", "-o", "jsonpath={.data}")
    print()
    show(local, "apply", "-f", str(HERE / "deployment.yaml"))

    step("The controller-manager made the Pods; the webhook injected the sidecar (Pending: no kubelet)")
    wait_for_pods(local, "shop", 2)
    show(local, "get", "pods", "-n", "shop", "-o", "custom-columns=POD:.metadata.name,"
         "INIT:.spec.initContainers[*].name,RESTART:.spec.initContainers[0].restartPolicy,"
         "APP:.spec.containers[*].name,INJECTED-FROM:.metadata.annotations.sidecar\\.stigg\\.io/injected")  # fmt: skip
    pod = kube.CoreV1Api(api).list_namespaced_pod("shop").items[0]
    sidecar = pod.spec.init_containers[0]
    env = [f"{e.name}=<from Secret {e.value_from.secret_key_ref.name}>" if e.value_from else f"{e.name}={e.value}"
           for e in sidecar.env]  # fmt: skip
    print(f"\nthe injected container of {pod.metadata.name}: image {sidecar.image}, "
          f"ports {[f'{p.name}:{p.container_port}' for p in sidecar.ports]}")  # fmt: skip
    print(f"  probes: startup {sidecar.startup_probe.http_get.path}, readiness "
          f"{sidecar.readiness_probe.http_get.path}, liveness {sidecar.liveness_probe.http_get.path}")  # fmt: skip
    print(f"  mounts: {[f'{m.name}:{m.mount_path}' for m in sidecar.volume_mounts]}")
    print("  env:\n    " + "\n    ".join(env))
    app_env = {e.name: e.value for e in pod.spec.containers[0].env}
    print(f"the app container got {keys.APP_HOST_ENV}={app_env[keys.APP_HOST_ENV]} "
          f"{keys.APP_PORT_ENV}={app_env[keys.APP_PORT_ENV]}")  # fmt: skip
    expect(
        sidecar.name == keys.SIDECAR_CONTAINER and sidecar.restart_policy == "Always",
        "native sidecar injected",
    )
    wait_until(lambda: local.kubectl("get", "stigg", "shop", "-n", "shop", "-o",
               "jsonpath={.status.injectedPods}") == "2", "the status to count 2 injected Pods")  # fmt: skip
    show(local, "get", "stigg", "-n", "shop")


def opt_in_workload(local: cluster.LocalCluster, emulator: emulator_launcher.RunningEmulator) -> None:
    step("Another team's namespace is not opted in; it annotates one Deployment instead")
    manifest = str(HERE / "billing.yaml")
    local.kubectl("create", "namespace", "billing")
    local.kubectl(
        "wait", "--for=jsonpath={.metadata.name}=default", "serviceaccount/default", "-n", "billing"
    )
    local.kubectl(
        "create", "secret", "generic", "stigg-server-api-key", "-n", "billing",
        f"--from-literal=SERVER_API_KEY={emulator.api_key}",
    )  # fmt: skip
    show(local, "apply", "-f", manifest)
    columns = ("custom-columns=POD:.metadata.name,INIT:.spec.initContainers[*].name,"
               "APP:.spec.containers[*].name,LABEL:.metadata.labels.sidecar\\.stigg\\.io/inject")  # fmt: skip

    def pods(injected: bool) -> bool:
        listed = local.kubectl("get", "pods", "-n", "billing", "-o", "json")
        items = [p for p in json.loads(listed)["items"] if not p["metadata"].get("deletionTimestamp")]
        with_sidecar = [p for p in items if p["spec"].get("initContainers")]
        return len(items) == 2 and len(with_sidecar) == (2 if injected else 0)

    wait_until(lambda: pods(injected=False), "the Deployment's Pods, without the sidecar")
    show(local, "get", "pods", "-n", "billing", "-o", columns)
    show(
        local,
        "annotate",
        "deployment",
        "invoices",
        "-n",
        "billing",
        f"{keys.WORKLOAD_INJECT_ANNOTATION}=true",
    )
    wait_until(lambda: pods(injected=True), "the annotated Deployment's Pods to be injected")
    show(local, "get", "pods", "-n", "billing", "-o", columns)
    print(
        "the operator carried the opt-in into the Pod template, as its own server-side apply field manager:"
    )
    template = "jsonpath={.spec.template.metadata.labels}{'\\n'}{.metadata.managedFields[*].manager}"
    show(local, "get", "deployment", "invoices", "-n", "billing", "-o", template)
    generation = local.kubectl(
        "get", "deployment", "invoices", "-n", "billing", "-o", "jsonpath={.metadata.generation}"
    )
    step("Re-apply the team's unchanged manifest (as GitOps does): the opt-in stays, nothing rolls")
    show(local, "apply", "-f", manifest)
    time.sleep(3)
    after = local.kubectl(
        "get", "deployment", "invoices", "-n", "billing", "-o", "jsonpath={.metadata.generation}"
    )
    expect(after == generation and pods(injected=True), "re-applying must keep the opt-in without a rollout")
    print(f"generation {after} (unchanged); both Pods still carry the sidecar")
    show(local, "get", "stigg", "-A")


def expect(condition: bool, story: str) -> None:
    if not condition:
        raise SystemExit(f"demo failed: {story}")


def timed(call: Callable[[], T]) -> tuple[T, float]:
    began = time.perf_counter()
    result = call()
    return result, (time.perf_counter() - began) * 1000


def run_sidecar(
    api: kube.ApiClient, emulator: emulator_launcher.RunningEmulator, scratch: pathlib.Path
) -> None:
    step("Start one Pod's injected sidecar from its Pod spec (the Pod runner stands in for the kubelet)")
    runner = podrunner.PodRunner(
        api, {SIDECAR_IMAGE: [sys.executable, "-m", "stigg_sidecar"]}, scratch / "pods"
    )
    pod = kube.CoreV1Api(api).list_namespaced_pod("shop").items[0]
    sidecar = runner.run(api.sanitize_for_serialization(pod), keys.SIDECAR_CONTAINER)
    started = sidecar.wait_probe("startupProbe")
    print(f"{pod.metadata.name}/{keys.SIDECAR_CONTAINER} runs at Pod IP {sidecar.pod_ip}: startup probe passed "
          f"after {started:.1f}s; readiness {sidecar.probe_once('readinessProbe')}, "
          f"liveness {sidecar.probe_once('livenessProbe')}")  # fmt: skip
    try:
        with client.SidecarClient(sidecar.address(keys.GRPC_PORT_NAME), timeout=5) as checks:
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
            print(f"reported 700 calls (durably queued for the upstream): {report.current_usage:.0f} used; "
                  f"the next check sees {after.entitlement.current_usage:.0f}")  # fmt: skip
            expect(after.entitlement.current_usage == 950, "the check after a report must see it")

            try:
                checks.get_metered_entitlement("customer-free", "feature-api-calls", requested_usage=-5)
            except grpc.RpcError as error:
                print(f"an invalid request: {error.code().name}: {error.details()}")

            show_realtime(checks, sidecar, emulator)

            step("Kill the upstream: the sidecar still answers, from its cache and then from its defaults")
            emulator.stop()
            cached = checks.get_boolean_entitlement("customer-pro", "feature-sso")
            print(f"customer-pro (cached): has_access={cached.has_access}, is_fallback={cached.is_fallback}")
            unknown = checks.get_boolean_entitlement("customer-enterprise", "feature-sso")
            print(f"customer-enterprise (never seen): has_access={unknown.has_access}, "
                  f"is_fallback={unknown.is_fallback} (the resource's defaults)")  # fmt: skip
            expect(cached.has_access and not cached.is_fallback, "the cached answer must survive the outage")
            expect(not unknown.has_access and unknown.is_fallback, "the default must be served, as fallback")

            step("Edit the defaults in the resource: the ConfigMap changes and the running sidecar follows")
            edit = {"spec": {"defaults": {"feature-sso": {"hasAccess": True}}}}
            print(f"$ kubectl patch stigg shop -n shop --type=merge -p '{json.dumps(edit)}'")
            kube.CustomObjectsApi(api).patch_namespaced_custom_object(
                keys.GROUP, keys.VERSION, "shop", keys.PLURAL, "shop", edit
            )
            began = time.monotonic()
            wait_until(lambda: checks.get_boolean_entitlement("customer-enterprise", "feature-sso").has_access,
                       "the edited default to reach the running sidecar")  # fmt: skip
            print(f"customer-enterprise may use feature-sso: True after {time.monotonic() - began:.1f}s, "
                  "without a restart")  # fmt: skip
        for line in sidecar.log().splitlines()[-3:]:
            print(f"  sidecar log: {line}")
    finally:
        runner.stop_all()


def show_realtime(
    checks: client.SidecarClient,
    sidecar: podrunner.RunningContainer,
    emulator: emulator_launcher.RunningEmulator,
) -> None:
    step("Upgrade customer-free to plan-pro upstream: the real-time stream brings it to the sidecar")
    wait_until(lambda: sidecar_json(sidecar, "/readyz").get("stream") == "live", "the stream to be live")
    before = checks.get_boolean_entitlement("customer-free", "feature-sso")
    print(f"customer-free may use feature-sso: {before.has_access} (cached)")
    print('$ curl -X PUT <emulator>/_emulator/customers/customer-free -d \'{"plan": "plan-pro"}\'')
    began = time.perf_counter()
    upgrade = urllib.request.Request(  # noqa: S310 -- the emulator on loopback
        f"{emulator.admin_url}/customers/customer-free",
        method="PUT",
        data=b'{"plan": "plan-pro"}',
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(upgrade, timeout=5).close()  # noqa: S310 -- the emulator on loopback
    wait_until(
        lambda: checks.get_boolean_entitlement("customer-free", "feature-sso").has_access,
        "the upgrade to reach the sidecar",
        interval=0.001,
    )
    print(f"customer-free may use feature-sso: True, {(time.perf_counter() - began) * 1000:.0f} ms after "
          "the upgrade was sent: by the stream, with no refetch and no TTL wait")  # fmt: skip


def sidecar_json(sidecar: podrunner.RunningContainer, path: str) -> dict[str, object]:
    """GET one of the sidecar's HTTP endpoints at its Pod IP."""
    url = f"http://{sidecar.address(keys.HTTP_PORT_NAME)}{path}"
    with urllib.request.urlopen(url, timeout=5) as answer:
        body: dict[str, object] = json.loads(answer.read())
        return body


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
    api = kubeconfig.new_client_from_config(config_file=str(local.kubeconfig_path))
    emulator = emulator_launcher.start(catalog_path=catalog.SAMPLE_PATH, latency_ms=100)
    operator = operator_launcher.RunningOperator(
        local.kubeconfig_path, state_dir / "operator.log", env={"STIGG_OPERATOR_STATUS_INTERVAL_SECONDS": "2"}
    )
    try:
        step("Install the CRD, then start the operator")
        show(local, "apply", "--server-side", "-f", str(CRDS))
        local.kubectl(
            "wait", "--for=condition=Established", "crd/stiggentitlements.sidecar.stigg.io", "--timeout=30s"
        )
        local.kubectl("create", "namespace", "stigg-system")
        operator.start(api)
        print(
            f"upstream emulator at {emulator.base_url}; operator webhook at {operator.env['STIGG_OPERATOR_WEBHOOK_URL']}"
        )
        run(local, api, emulator)
        opt_in_workload(local, emulator)
        run_sidecar(api, emulator, state_dir)
    except BaseException:
        operator.stop()
        print("operator log (last lines):\n" + "\n".join(operator.log().splitlines()[-15:]), file=sys.stderr)
        operator.remove_webhook(api)
        emulator.stop()
        local.stop()
        shutil.rmtree(state_dir, ignore_errors=True)
        raise
    operator.stop()
    operator.remove_webhook(api)
    emulator.stop()
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
