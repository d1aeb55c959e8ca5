"""The end-to-end demo (``make demo``) on a local cluster of real Kubernetes components.

1. The platform: a control plane and a real node (kubelet, containerd, runc, CNI, kube-proxy,
   CoreDNS) start inside namespaces of their own; the project's images, built by
   ``make images``, are imported into the node; the CRDs are applied and the operator is
   deployed as users deploy it, ``kubectl apply -k`` (``demo/overlay``: ``manifests/`` with the
   local image names). The operator runs as a Pod and the apiserver calls its webhook through
   its Service.
2. A namespace opted in to injection gets a Secret, a StiggEntitlements and an unchanged
   Deployment of a real application (``demo/app.py``); the webhook injects the sidecar as a
   native sidecar and the kubelet runs both. Every check below is made by the application, in
   its Pod, calling its sidecar over localhost; the sidecar calls the upstream emulator (a
   stand-in for Stigg's API, 100 ms per call like the real Edge API) at the node's address:
   a miss, cache hits, a metered limit, a usage report, an invalid request, and a plan upgrade
   upstream that reaches the sidecar by the real-time stream in milliseconds.
3. A workload opt-in: in a namespace that is not opted in, annotating one Deployment gets its
   Pods the sidecar; re-applying the team's manifest keeps it, with no rollout.
4. The upstream is killed: the application still gets answers, from the sidecar's cache and
   then from the defaults; a defaults edit in the resource reaches the running sidecar through
   its ConfigMap volume, without a restart.

    python demo/run.py           run the demo and stop everything afterwards
    python demo/run.py --keep    leave the cluster running and print the KUBECONFIG export
"""

from __future__ import annotations

import argparse
import json
import pathlib
import shutil
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from stigg_devkit import images
from stigg_emulator import catalog
from stigg_emulator import launcher as emulator_launcher
from stigg_localcluster import build, cluster
from stigg_operator import keys

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
APP_PORT = 8000


def step(text: str) -> None:
    print(f"\n==> {text}", flush=True)


def show(local: cluster.LocalCluster, *args: str) -> str:
    print(f"$ kubectl {' '.join(args)}", flush=True)
    output = local.kubectl(*args)
    print(output.rstrip(), flush=True)
    return output


def expect(condition: bool, story: str) -> None:
    if not condition:
        raise SystemExit(f"demo failed: {story}")


def wait_until(probe: Callable[[], object], what: str, timeout: float = 90, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise SystemExit(f"demo failed: {what} within {timeout:.0f}s")
        time.sleep(interval)


def pods(local: cluster.LocalCluster, namespace: str, selector: str) -> list[dict[str, Any]]:
    listed = json.loads(local.kubectl("get", "pods", "-n", namespace, "-l", selector, "-o", "json"))
    return [p for p in listed["items"] if not p["metadata"].get("deletionTimestamp")]


class App:
    """The demo application in one Pod, reached from here through a forwarder to its Pod IP."""

    def __init__(self, local: cluster.LocalCluster, pod: dict[str, Any]) -> None:
        self.name = pod["metadata"]["name"]
        self.ip = pod["status"]["podIP"]
        self.port = local.forward(self.ip, APP_PORT)
        sidecar = next(c for c in pod["spec"]["initContainers"] if c["name"] == keys.SIDECAR_CONTAINER)
        http = next(p["containerPort"] for p in sidecar["ports"] if p["name"] == keys.HTTP_PORT_NAME)
        self.sidecar_http = local.forward(self.ip, http)

    def call(self, path: str, method: str = "GET") -> tuple[dict[str, Any], float]:
        """The app's JSON answer and the milliseconds its call to the sidecar took."""
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method=method)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 -- loopback
                return json.load(response), float(response.headers.get("X-Sidecar-Ms", "nan"))
        except urllib.error.HTTPError as error:
            return json.load(error), float("nan")

    def check(
        self, customer: str, feature: str, requested: float | None = None
    ) -> tuple[dict[str, Any], float]:
        path = f"/entitlement?customer={customer}&feature={feature}"
        return self.call(path + (f"&requested={requested:g}" if requested is not None else ""))

    def sidecar_status(self) -> dict[str, Any]:
        url = f"http://127.0.0.1:{self.sidecar_http}/readyz"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                body: dict[str, Any] = json.load(response)
        except urllib.error.HTTPError as error:
            body = json.load(error)
        return body


def platform(local: cluster.LocalCluster, emulator: emulator_launcher.RunningEmulator) -> None:
    step("Install the CRDs, then deploy the operator as users do: kubectl apply -k")
    show(local, "apply", "--server-side", "-f", str(ROOT / "crds"))
    local.kubectl("wait", "--for=condition=Established", f"crd/{keys.PLURAL}.{keys.GROUP}", "--timeout=30s")
    print("(demo/overlay is manifests/ with the images of `make images` and imagePullPolicy: Never)")
    show(local, "apply", "-k", str(HERE / "overlay"))
    local.kubectl(
        "create", "secret", "generic", "stigg-server-api-key", "-n", "stigg-system",
        f"--from-literal=SERVER_API_KEY={emulator.api_key}",
    )  # fmt: skip
    show(local, "rollout", "status", "deployment/stigg-operator", "-n", "stigg-system", "--timeout=180s")
    show(local, "get", "pods", "-n", "stigg-system", "-o", "wide")
    show(local, "get", "mutatingwebhookconfigurations")
    show(local, "get", "service", "stigg-operator", "-n", "stigg-system")


def team_namespace(
    local: cluster.LocalCluster, emulator: emulator_launcher.RunningEmulator, upstream: str
) -> App:
    step("A namespace opted in to injection: its Secret, StiggEntitlements, and an unchanged Deployment")
    show(local, "apply", "-f", str(HERE / "namespace.yaml"))
    local.kubectl("wait", "--for=jsonpath={.metadata.name}=default", "serviceaccount/default", "-n", "shop")
    print(
        "$ kubectl create secret generic stigg-server-api-key -n shop --from-literal=SERVER_API_KEY=<the key>"
    )
    local.kubectl(
        "create", "secret", "generic", "stigg-server-api-key", "-n", "shop",
        f"--from-literal=SERVER_API_KEY={emulator.api_key}",
    )  # fmt: skip
    show(local, "create", "configmap", "demo-app", "-n", "shop", f"--from-file={HERE / 'app.py'}")
    show(local, "apply", "-f", str(HERE / "stiggentitlements.yaml"))
    ws = "ws" + upstream.removeprefix("http")
    patch = {"spec": {"upstream": {"edgeApiUrl": upstream, "apiUrl": upstream, "wsUrl": ws}}}
    show(local, "patch", "stigg", "shop", "-n", "shop", "--type=merge", "-p", json.dumps(patch))
    wait_until(lambda: "True" in local.kubectl("get", "stigg", "shop", "-n", "shop", "-o",
               "jsonpath={.status.conditions[?(@.type=='Ready')].status}"), "the resource to be Ready")  # fmt: skip
    show(local, "apply", "-f", str(HERE / "deployment.yaml"))
    show(local, "rollout", "status", "deployment/shop-api", "-n", "shop", "--timeout=180s")

    step("The kubelet runs each Pod: the injected sidecar (a native sidecar) first, then the app")
    show(local, "get", "pods", "-n", "shop", "-o", "wide")
    show(local, "get", "pods", "-n", "shop", "-o", "custom-columns=POD:.metadata.name,"
         "SIDECAR:.spec.initContainers[0].name,RESTART:.spec.initContainers[0].restartPolicy,"
         "IMAGE:.spec.initContainers[0].image,APP:.spec.containers[*].name,"
         "STARTED:.status.initContainerStatuses[0].started,READY:.status.containerStatuses[0].ready")  # fmt: skip
    pod = pods(local, "shop", "app=shop-api")[0]
    name = pod["metadata"]["name"]
    described = local.kubectl("describe", "pod", name, "-n", "shop")
    print(f"$ kubectl describe pod {name} -n shop   (the injected container and the events)")
    section = described[
        described.index("Init Containers:") : described.index(
            "Containers:", described.index("Init Containers:") + 20
        )
    ]
    print("\n".join(line for line in section.splitlines() if line.strip())[:2500])
    print("\n".join(described[described.index("Events:") :].splitlines()[:14]))
    expect(pod["spec"]["initContainers"][0]["restartPolicy"] == "Always", "native sidecar injected")
    show(local, "logs", name, "-n", "shop", "-c", "api")
    wait_until(lambda: local.kubectl("get", "stigg", "shop", "-n", "shop", "-o",
               "jsonpath={.status.injectedPods}") == "2", "the status to count 2 injected Pods")  # fmt: skip
    show(local, "get", "stigg", "-n", "shop")
    return App(local, pod)


def checks(app: App, emulator: emulator_launcher.RunningEmulator) -> None:
    step(f"Checks by the app in Pod {app.name}, through its sidecar on localhost: a miss, then cache hits")
    first, first_ms = app.check("customer-pro", "feature-sso")
    hits = [app.check("customer-pro", "feature-sso") for _ in range(20)]
    hit_ms = statistics.median(ms for _, ms in hits)
    print(f"customer-pro may use feature-sso: {first['hasAccess']} ({first_ms:.1f} ms, a miss)")
    print(
        f"customer-pro may use feature-sso: {hits[-1][0]['hasAccess']} ({hit_ms:.2f} ms, median of 20 hits)"
    )
    expect(first["hasAccess"] and hits[-1][0]["hasAccess"] and hit_ms < first_ms, "cache hit not faster")

    metered, _ = app.check("customer-free", "feature-api-calls", requested=800)
    used, limit = metered["entitlement"]["currentUsage"], metered["entitlement"]["usageLimit"]
    print(f"customer-free asks for 800 API calls with {used:.0f} of {limit:.0f} used: "
          f"hasAccess={metered['hasAccess']}, reason={metered.get('accessDeniedReason')}")  # fmt: skip
    expect(not metered["hasAccess"], "800 more calls should exceed the limit")
    report, _ = app.call("/usage?customer=customer-free&feature=feature-api-calls&value=700", method="POST")
    after, _ = app.check("customer-free", "feature-api-calls", requested=1)
    print(f"reported 700 calls (durably queued for the upstream): {report['currentUsage']:.0f} used; "
          f"the next check sees {after['entitlement']['currentUsage']:.0f}")  # fmt: skip
    expect(after["entitlement"]["currentUsage"] == 950, "the check after a report must see it")
    invalid, _ = app.check("customer-free", "feature-api-calls", requested=-5)
    print(f"an invalid request: {invalid['error'].removeprefix('StatusCode.')}: {invalid['details']}")

    step("Upgrade customer-free to plan-pro upstream: the real-time stream brings it to the sidecar")
    wait_until(lambda: app.sidecar_status().get("stream") == "live", "the stream to be live")
    before, _ = app.check("customer-free", "feature-sso")
    print(f"customer-free may use feature-sso: {before['hasAccess']} (cached)")
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
        lambda: app.check("customer-free", "feature-sso")[0]["hasAccess"], "the upgrade", interval=0.002
    )
    print(f"customer-free may use feature-sso: True, {(time.perf_counter() - began) * 1000:.0f} ms after "
          "the upgrade was sent: by the stream, with no refetch and no TTL wait")  # fmt: skip


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
    local.kubectl("create", "configmap", "demo-app", "-n", "billing", f"--from-file={HERE / 'app.py'}")
    show(local, "apply", "-f", manifest)
    columns = ("custom-columns=POD:.metadata.name,INIT:.spec.initContainers[*].name,"
               "APP:.spec.containers[*].name,LABEL:.metadata.labels.sidecar\\.stigg\\.io/inject,"
               "PHASE:.status.phase")  # fmt: skip

    def running(injected: bool) -> bool:
        items = pods(local, "billing", "app=invoices")
        ready = [p for p in items if all(s.get("ready") for s in p["status"].get("containerStatuses", [{}]))]
        with_sidecar = [p for p in ready if p["spec"].get("initContainers")]
        return len(items) == len(ready) == 2 and len(with_sidecar) == (2 if injected else 0)

    wait_until(lambda: running(injected=False), "the Deployment's Pods to run, without the sidecar")
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
    wait_until(
        lambda: running(injected=True), "the annotated Deployment's Pods to run with the sidecar", timeout=180
    )
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
    expect(
        after == generation and running(injected=True), "re-applying must keep the opt-in without a rollout"
    )
    print(f"generation {after} (unchanged); both Pods still carry the sidecar")
    show(local, "get", "stigg", "-A")


def outage(local: cluster.LocalCluster, app: App, emulator: emulator_launcher.RunningEmulator) -> None:
    step("Kill the upstream: the app still gets answers, from the sidecar's cache and then from its defaults")
    emulator.stop()
    cached, _ = app.check("customer-pro", "feature-sso")
    print(f"customer-pro (cached): hasAccess={cached['hasAccess']}, isFallback={cached['isFallback']}")
    unknown, _ = app.check("customer-enterprise", "feature-sso")
    print(f"customer-enterprise (never seen): hasAccess={unknown.get('hasAccess', False)}, "
          f"isFallback={unknown['isFallback']} (the resource's defaults)")  # fmt: skip
    expect(cached["hasAccess"] and not cached["isFallback"], "the cached answer must survive the outage")
    expect(not unknown.get("hasAccess") and unknown["isFallback"], "the default must be served, as fallback")

    step(
        "Edit the defaults in the resource: the ConfigMap changes and the kubelet updates the running sidecar"
    )
    edit = {"spec": {"defaults": {"feature-sso": {"hasAccess": True}}}}
    show(local, "patch", "stigg", "shop", "-n", "shop", "--type=merge", "-p", json.dumps(edit))
    began = time.monotonic()
    wait_until(lambda: app.check("customer-enterprise", "feature-sso")[0].get("hasAccess"),
               "the edited default to reach the running sidecar")  # fmt: skip
    print(f"customer-enterprise may use feature-sso: True after {time.monotonic() - began:.1f}s, without a restart "
          "(the kubelet's ConfigMap volume sync)")  # fmt: skip
    show(local, "get", "pods", "-n", "shop")
    show(local, "logs", app.name, "-n", "shop", "-c", "api", "--tail=4")
    show(local, "logs", app.name, "-n", "shop", "-c", keys.SIDECAR_CONTAINER, "--tail=3")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="leave the cluster running afterwards")
    args = parser.parse_args()

    binaries = build.ensure_built()
    built = images.ensure_built()
    state_dir = pathlib.Path(tempfile.mkdtemp(prefix="stigg-demo-"))
    local = cluster.LocalCluster(state_dir, attached=not args.keep, binaries=binaries, node=True)
    step("Start the local cluster: a control plane and a real node, in namespaces of their own")
    started = time.monotonic()
    local.start()
    print(f"ready at {local.server} in {time.monotonic() - started:.1f}s (state in {state_dir})", flush=True)
    emulator = emulator_launcher.start(catalog_path=catalog.SAMPLE_PATH, latency_ms=100)
    try:
        show(local, "version")
        show(local, "get", "nodes", "-o", "wide")
        step("Import the project's images (built by `make images`, no registry) into the node's containerd")
        local.import_images([image.archive for image in built.values()])
        for image in built.values():
            print(f"{image.ref}  {image.archive.stat().st_size / 1e6:.1f} MB archive  ({image.archive.name})")
        upstream = "http://" + local.expose(int(emulator.base_url.rsplit(":", 1)[1]))
        print(f"upstream emulator at {emulator.base_url} on the host; Pods reach it at {upstream}")
        platform(local, emulator)
        app = team_namespace(local, emulator, upstream)
        checks(app, emulator)
        opt_in_workload(local, emulator)
        outage(local, app, emulator)
    except BaseException:
        emulator.stop()
        for name in ("kubelet", "containerd"):
            print(f"{name} log (last lines):", file=sys.stderr)
            print(
                "\n".join((local.logs_dir / f"{name}.log").read_text(errors="replace").splitlines()[-10:]),
                file=sys.stderr,
            )
        local.stop()
        shutil.rmtree(state_dir, ignore_errors=True)
        raise
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
