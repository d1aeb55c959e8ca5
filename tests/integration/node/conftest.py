"""Fixtures for the tests on the real node: the cluster with its node, the project's images in
its runtime, and the product deployed as users deploy it (``kubectl apply -k``).

* ``node_cluster`` (session): ``LocalCluster(node=True)`` with the sidecar and operator images
  (``make images``) imported into containerd;
* ``deployed`` (session): the CRDs, then ``kubectl apply -k demo/overlay`` (``manifests/`` with
  the local image names and ``imagePullPolicy: Never``): the operator runs as a Pod, and its
  webhook is called by the apiserver through its Service;
* ``emulator``: the upstream emulator on the host's loopback, exposed to Pods at the node's
  address (``node_cluster.expose``), accepting the key the tests' Secrets hold;
* ``app_namespace``: a fresh namespace opted in to injection, with the API key Secret, a
  StiggEntitlements pointing the sidecar at the emulator, and the demo application's code
  (``demo/app.py``) in a ConfigMap (``opted_in_namespace``, for a test that needs other labels
  or no Secret).
"""

from __future__ import annotations

import contextlib
import json
import pathlib
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from stigg_devkit import images, waiting
from stigg_emulator import catalog
from stigg_emulator import launcher as emulator_launcher
from stigg_localcluster import build, cluster
from stigg_operator import keys

ROOT = pathlib.Path(__file__).resolve().parents[3]
OVERLAY = ROOT / "demo" / "overlay"
API_KEY = "sk-node-test"
OPERATOR_NAMESPACE = "stigg-system"
API_KEY_SECRET = "stigg-server-api-key"  # the name of the Secret holding API_KEY
APP_PORT = 8000


@pytest.fixture(scope="session")
def built_images() -> dict[str, images.Image]:
    return images.ensure_built()


@pytest.fixture(scope="session")
def node_cluster(
    tmp_path_factory: pytest.TempPathFactory, built_images: dict[str, images.Image]
) -> Iterator[cluster.LocalCluster]:
    local = cluster.LocalCluster(
        tmp_path_factory.mktemp("node-cluster"), node=True, binaries=build.ensure_built(node=True)
    )
    local.start()
    try:
        local.import_images([image.archive for image in built_images.values()])
        yield local
    finally:
        local.stop()


def apply(local: cluster.LocalCluster, *objects: dict[str, Any]) -> None:
    local.kubectl(
        "apply",
        "-f",
        "-",
        input_text=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)}),
    )


def get(local: cluster.LocalCluster, *args: str) -> Any:
    return json.loads(local.kubectl("get", *args, "-o", "json"))


@pytest.fixture(scope="session")
def deployed(node_cluster: cluster.LocalCluster) -> cluster.LocalCluster:
    """The operator as users deploy it; returns the cluster once the operator Pod is Ready and
    its webhook configuration exists."""
    local = node_cluster
    local.kubectl("apply", "--server-side", "-f", str(ROOT / "crds"))
    local.kubectl("wait", "--for=condition=Established", f"crd/{keys.PLURAL}.{keys.GROUP}", "--timeout=30s")
    local.kubectl("apply", "-k", str(OVERLAY))
    local.kubectl(
        "-n", OPERATOR_NAMESPACE, "create", "secret", "generic", API_KEY_SECRET,
        f"--from-literal=SERVER_API_KEY={API_KEY}",
    )  # fmt: skip
    local.kubectl(
        "-n", OPERATOR_NAMESPACE, "rollout", "status", "deployment/stigg-operator", "--timeout=120s"
    )
    waiting.wait_for(
        lambda: local.kubectl("get", "mutatingwebhookconfigurations", "-o", "name", check=False).strip(),
        what="the operator's webhook configuration",
        timeout=60,
    )
    return local


@pytest.fixture(scope="session")
def emulator(node_cluster: cluster.LocalCluster) -> Iterator[emulator_launcher.RunningEmulator]:
    running = emulator_launcher.start(catalog_path=catalog.SAMPLE_PATH, latency_ms=0, api_key=API_KEY)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def emulator_in_cluster(
    node_cluster: cluster.LocalCluster, emulator: emulator_launcher.RunningEmulator
) -> str:
    """The emulator's base URL as Pods reach it (the node's address)."""
    port = int(emulator.base_url.rsplit(":", 1)[1])
    return f"http://{node_cluster.expose(port)}"


def upstream_spec(base_url: str) -> dict[str, Any]:
    ws = "ws" + base_url.removeprefix("http")
    return {"apiUrl": base_url, "edgeApiUrl": base_url, "wsUrl": ws, "realtime": True}


@contextlib.contextmanager
def opted_in_namespace(
    local: cluster.LocalCluster,
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
                "labels": {keys.NAMESPACE_INJECTION_LABEL: "enabled", **(labels or {})},
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
        apply(local, *objects)
        waiting.wait_for(
            lambda: entitlements_status(local, name).get("observedGeneration") == 1,
            what="the operator to see the StiggEntitlements",
            timeout=60,
        )
        yield name
    finally:
        local.kubectl("delete", "namespace", name, "--wait=false", check=False)


def api_key_secret(namespace: str, name: str = API_KEY_SECRET) -> dict[str, Any]:
    """The API key Secret the emulator accepts."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "stringData": {"SERVER_API_KEY": API_KEY},
    }


def entitlements_status(local: cluster.LocalCluster, namespace: str, name: str = "shop") -> dict[str, Any]:
    resource = get(local, "-n", namespace, f"{keys.PLURAL}.{keys.GROUP}/{name}")
    status: dict[str, Any] = resource.get("status") or {}
    return status


def condition(status: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """The condition ``kind`` of a status (or of a Pod's, a Job's status), {} if absent."""
    return next((dict(c) for c in status.get("conditions") or () if c.get("type") == kind), {})


@pytest.fixture
def app_namespace(deployed: cluster.LocalCluster, emulator_in_cluster: str) -> Iterator[str]:
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
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "readOnlyRootFilesystem": True,
                        "runAsNonRoot": True,
                        "runAsUser": 65532,
                        "capabilities": {"drop": ["ALL"]},
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                }
            ],
            "volumes": [{"name": "app", "configMap": {"name": "demo-app"}}],
            **extra,
        },
    }


def app_get(local: cluster.LocalCluster, pod_ip: str, path: str, *, method: str = "GET") -> Any:
    """The demo app's answer (JSON) to ``path``, reached from the host through a forwarder."""
    port = local.forward(pod_ip, APP_PORT)
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 -- loopback
        return json.load(response)


def emulator_admin(
    emulator: emulator_launcher.RunningEmulator, method: str, path: str, body: Any = None
) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 -- the emulator on loopback
        f"{emulator.admin_url}/{path}", data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 -- the emulator on loopback
        return json.load(response)


def run_pod(
    local: cluster.LocalCluster, namespace: str, pod: dict[str, Any], timeout: int = 120
) -> dict[str, Any]:
    """Create ``pod`` and wait until Ready; the live Pod."""
    name = pod["metadata"]["name"]
    local.kubectl("-n", namespace, "apply", "-f", "-", input_text=json.dumps(pod))
    local.kubectl("-n", namespace, "wait", "--for=condition=Ready", f"pod/{name}", f"--timeout={timeout}s")
    live: dict[str, Any] = get(local, "-n", namespace, f"pod/{name}")
    return live
