"""Fixtures for the end-to-end suite: the project's images run by a real kubelet, the product
deployed as users deploy it (``kubectl apply -k``), the upstream emulator as a Pod.

Every test reaches the cluster through ``kube.Cluster`` (kubectl and port-forwards through the
apiserver) and nothing else, so the same tests run on two kinds of cluster:

* by default, ``LocalCluster(node=True)``, started for the session, with the sidecar and
  operator images (``make images``) imported into its containerd;
* with ``STIGG_E2E_KUBECONFIG`` set, an existing cluster (kind, k3d, any) given by that
  kubeconfig's current context, where the images are loaded already under the names
  ``demo/overlay`` uses (README, "Running the end-to-end suite on your own cluster"). The
  suite then removes what it installed at the end (the test namespaces, the emulator, the
  overlay's objects, the webhook configuration, the CRDs) unless ``STIGG_E2E_KEEP=1``.

The fixtures:

* ``e2e_cluster`` (session): the ``kube.Cluster``;
* ``deployed`` (session): the CRDs, then ``kubectl apply -k demo/overlay`` (``manifests/`` with
  the local image names and ``imagePullPolicy: Never``): the operator runs as a Pod, and its
  webhook is called by the apiserver through its Service;
* ``emulator`` (session): the upstream emulator as a Pod (``stigg_emulator.in_cluster``),
  accepting the key the tests' Secrets hold; ``emulator_in_cluster`` is its URL for Pods;
* ``app_namespace``: a fresh namespace opted in to injection, with the API key Secret, a
  StiggEntitlements pointing the sidecar at the emulator, and the demo application's code
  (``demo/app.py``) in a ConfigMap (``opted_in_namespace``, for a test that needs other labels
  or no Secret).
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import urllib.request
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest

from stigg_devkit import images, kube, prometheus, waiting
from stigg_emulator import in_cluster
from stigg_localcluster import build, cluster
from stigg_operator import keys

ROOT = pathlib.Path(__file__).resolve().parents[3]
OVERLAY = ROOT / "demo" / "overlay"
API_KEY = "sk-node-test"
OPERATOR_NAMESPACE = "stigg-system"
API_KEY_SECRET = "stigg-server-api-key"  # the name of the Secret holding API_KEY
WEBHOOK_CONFIGURATION = "stigg-sidecar-injector"  # the operator's default name for it
EMULATOR_NAMESPACE = "stigg-e2e-upstream"
# On every namespace the suite creates (the emulator's too), for the final cleanup.
TEST_LABELS = dict(in_cluster.PART_OF)
TEST_SELECTOR = ",".join(f"{key}={value}" for key, value in TEST_LABELS.items())
APP_PORT = 8000
EXISTING_ENV = "STIGG_E2E_KUBECONFIG"
KEEP_ENV = "STIGG_E2E_KEEP"
IMAGES = {component.name: component.image for component in images.COMPONENTS}


def existing_kubeconfig() -> pathlib.Path | None:
    configured = os.environ.get(EXISTING_ENV)
    return pathlib.Path(configured).expanduser() if configured else None


def pytest_report_header() -> str:
    configured = existing_kubeconfig()
    where = f"the existing cluster of {configured}" if configured else "a local cluster with a node"
    return f"end-to-end suite (tests/integration/node) on {where}"


@pytest.fixture(scope="session")
def image_refs() -> dict[str, str]:
    """The images' names, by component, as the overlay and the tests' Pods use them."""
    return dict(IMAGES)


@pytest.fixture(scope="session")
def e2e_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[kube.Cluster]:
    configured = existing_kubeconfig()
    if configured is not None:
        built = build.binaries().kubectl
        kubectl = kube.kubectl_binary() or (str(built) if built.exists() else None)
        if kubectl is None:
            pytest.fail(f"{EXISTING_ENV} is set but no kubectl was found: put it on PATH or set KUBECTL")
        target = kube.Cluster(configured, kubectl)
        yield target
        target.close()
        return
    # The project's images, and Prometheus' for the live monitoring test.
    with local_node_cluster(tmp_path_factory.mktemp("node-cluster"), [prometheus.ensure_image()]) as target:
        yield target


@contextlib.contextmanager
def local_node_cluster(
    state_dir: pathlib.Path, extra_images: Sequence[pathlib.Path] = ()
) -> Iterator[kube.Cluster]:
    """A local cluster with a node, the project's images (and ``extra_images``) imported into
    it, reached as a ``kube.Cluster``; stopped on exit, also when the body fails."""
    built_images = images.ensure_built()
    local = cluster.LocalCluster(state_dir, node=True, binaries=build.ensure_built(node=True))
    local.start()
    try:
        local.import_images([*(image.archive for image in built_images.values()), *extra_images])
        target = kube.Cluster(local.kubeconfig_path, str(local.binaries.kubectl))
        try:
            yield target
        finally:
            target.close()
    finally:
        local.stop()


@pytest.fixture(scope="session")
def deployed(e2e_cluster: kube.Cluster) -> Iterator[kube.Cluster]:
    """The operator as users deploy it; the cluster once the operator Pod is Ready and its
    webhook configuration exists. On an existing cluster, what it installed goes at the end."""
    target = e2e_cluster
    target.kubectl("apply", "--server-side", "-f", str(ROOT / "crds"))
    target.kubectl("wait", "--for=condition=Established", f"crd/{keys.PLURAL}.{keys.GROUP}", "--timeout=30s")
    target.kubectl("apply", "-k", str(OVERLAY))
    target.apply(api_key_secret(OPERATOR_NAMESPACE))
    rollout = target.kubectl(
        "-n", OPERATOR_NAMESPACE, "rollout", "status", "deployment/stigg-operator", "--timeout=120s",
        check=False,
    )  # fmt: skip
    if "successfully rolled out" not in rollout:
        pods = target.get("-n", OPERATOR_NAMESPACE, "pods", "-l", "app.kubernetes.io/name=stigg-operator")
        trouble = [target.pod_trouble(OPERATOR_NAMESPACE, p["metadata"]["name"]) for p in pods["items"]]
        pytest.fail(f"the operator did not become Ready: {'; '.join(trouble) or 'no Pod'}")
    waiting.wait_for(
        lambda: target.kubectl(
            "get", "mutatingwebhookconfiguration", WEBHOOK_CONFIGURATION, "-o", "name", check=False
        ).strip(),
        what="the operator's webhook configuration",
        timeout=60,
    )
    yield target
    if existing_kubeconfig() is not None and not os.environ.get(KEEP_ENV):
        uninstall(target)


def uninstall(target: kube.Cluster) -> None:
    """Remove what the suite installed on an existing cluster: its namespaces (while the
    operator still runs), then the operator, its webhook configuration and the CRDs."""
    target.kubectl("delete", "namespace", "-l", TEST_SELECTOR, "--wait", "--timeout=180s", check=False)
    target.kubectl(
        "delete", "-k", str(OVERLAY), "--ignore-not-found", "--wait", "--timeout=120s", check=False
    )
    target.kubectl("delete", "mutatingwebhookconfiguration", WEBHOOK_CONFIGURATION, "--ignore-not-found")
    target.kubectl("delete", "-f", str(ROOT / "crds"), "--ignore-not-found", "--wait", "--timeout=60s")


@pytest.fixture(scope="session")
def emulator(deployed: kube.Cluster, image_refs: dict[str, str]) -> in_cluster.InClusterEmulator:
    """The upstream emulator, a Pod on the sidecar image, in a namespace of its own."""
    return in_cluster.deploy(
        deployed, namespace=EMULATOR_NAMESPACE, image=image_refs["sidecar"], api_key=API_KEY
    )


@pytest.fixture(scope="session")
def emulator_in_cluster(emulator: in_cluster.InClusterEmulator) -> str:
    """The emulator's base URL as Pods reach it (its Service, by name)."""
    return emulator.base_url


def upstream_spec(base_url: str) -> dict[str, Any]:
    ws = "ws" + base_url.removeprefix("http")
    return {"apiUrl": base_url, "edgeApiUrl": base_url, "wsUrl": ws, "realtime": True}


@contextlib.contextmanager
def opted_in_namespace(
    target: kube.Cluster,
    emulator_url: str,
    *,
    labels: Mapping[str, str] | None = None,
    secret_name: str = API_KEY_SECRET,
    create_secret: bool = True,
) -> Iterator[str]:
    """A fresh namespace opted in to injection (with ``labels`` besides), the demo app's code,
    and a StiggEntitlements ``shop`` pointing at the emulator whose API key is the Secret
    ``secret_name`` (created unless ``create_secret`` is false); deleted on exit."""
    name = f"app-{uuid.uuid4().hex[:8]}"
    objects: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": name,
                "labels": {keys.NAMESPACE_INJECTION_LABEL: "enabled", **TEST_LABELS, **(labels or {})},
            },
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "demo-app", "namespace": name},
            "data": {"app.py": (ROOT / "demo" / "app.py").read_text()},
        },
        {
            "apiVersion": f"{keys.GROUP}/{keys.VERSION}",
            "kind": keys.KIND,
            "metadata": {"name": "shop", "namespace": name},
            "spec": {
                "apiKeySecretRef": {"name": secret_name},
                "upstream": upstream_spec(emulator_url),
                "defaults": {"feature-sso": {"hasAccess": True}},
            },
        },
    ]
    if create_secret:
        objects.insert(1, api_key_secret(name, secret_name))
    try:
        target.apply(*objects)
        waiting.wait_for(
            lambda: entitlements_status(target, name).get("observedGeneration") == 1,
            what="the operator to see the StiggEntitlements",
            timeout=60,
        )
        yield name
    finally:
        target.kubectl("delete", "namespace", name, "--wait=false", check=False)


def api_key_secret(namespace: str, name: str = API_KEY_SECRET) -> dict[str, Any]:
    """The API key Secret the emulator accepts."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "stringData": {"SERVER_API_KEY": API_KEY},
    }


def entitlements_status(target: kube.Cluster, namespace: str, name: str = "shop") -> dict[str, Any]:
    resource = target.get("-n", namespace, f"{keys.PLURAL}.{keys.GROUP}/{name}")
    status: dict[str, Any] = resource.get("status") or {}
    return status


def condition(status: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """The condition ``kind`` of a status (or of a Pod's, a Job's status), {} if absent."""
    return next((dict(c) for c in status.get("conditions") or () if c.get("type") == kind), {})


@pytest.fixture
def app_namespace(deployed: kube.Cluster, emulator_in_cluster: str) -> Iterator[str]:
    with opted_in_namespace(deployed, emulator_in_cluster) as name:
        yield name


def app_pod(name: str, image: str, **extra: Any) -> dict[str, Any]:
    """A Pod running the demo application (``demo/app.py`` from the ``demo-app`` ConfigMap) on
    the sidecar image's Python; the operator injects the sidecar."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": image,
                    "imagePullPolicy": "Never",
                    "command": ["python", "/app/app.py"],
                    "ports": [{"name": "http", "containerPort": APP_PORT}],
                    "readinessProbe": {"httpGet": {"path": "/healthz", "port": APP_PORT}, "periodSeconds": 1},
                    "volumeMounts": [{"name": "app", "mountPath": "/app", "readOnly": True}],
                    "securityContext": kube.restricted_security_context(),
                }
            ],
            "volumes": [{"name": "app", "configMap": {"name": "demo-app"}}],
            **extra,
        },
    }


def app_get(target: kube.Cluster, pod: Mapping[str, Any], path: str, *, method: str = "GET") -> Any:
    """The demo app's answer (JSON) to ``path``, reached from the host through a port-forward."""
    return http_json(target, pod, APP_PORT, path, method=method)


def http_json(
    target: kube.Cluster, pod: Mapping[str, Any], port: int, path: str, *, method: str = "GET"
) -> Any:
    """The JSON answer of ``pod``'s ``port`` to an HTTP request for ``path``."""
    local = target.port_forward(pod["metadata"]["namespace"], pod["metadata"]["name"], port)
    request = urllib.request.Request(f"http://127.0.0.1:{local}{path}", method=method)
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 -- loopback
        return json.load(response)


def emulator_admin(emulator: in_cluster.InClusterEmulator, method: str, path: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 -- the emulator, through a loopback port-forward
        f"{emulator.admin_url}/{path}", data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 -- loopback
        return json.load(response)


def run_pod(target: kube.Cluster, namespace: str, pod: dict[str, Any], timeout: int = 120) -> dict[str, Any]:
    """Create ``pod`` and wait until Ready (failing with the reason it is not); the live Pod."""
    name = pod["metadata"]["name"]
    target.kubectl("-n", namespace, "apply", "-f", "-", input_text=json.dumps(pod))
    ready = target.kubectl(
        "-n", namespace, "wait", "--for=condition=Ready", f"pod/{name}", f"--timeout={timeout}s", check=False
    )
    if "condition met" not in ready:
        pytest.fail(
            f"pod {namespace}/{name} is not Ready after {timeout}s: {target.pod_trouble(namespace, name)}"
        )
    live: dict[str, Any] = target.get("-n", namespace, f"pod/{name}")
    return live
