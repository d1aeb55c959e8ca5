"""Run the emulator as a Pod of a cluster, where the end-to-end suite's sidecars reach it
through a Service by name, and the tests reach its admin endpoints through a port-forward.

This works on any cluster without a third image: the Pod runs the sidecar image's Python
(which has the emulator's dependencies, aiohttp and PyYAML, and ``stigg_sidecar.model``) on
this package's own source, mounted from a ConfigMap as ``/emulator/stigg_emulator``, with the
packaged sample catalog. The API key is in a Secret, read into ``STIGG_EMULATOR_API_KEY``.

* ``manifests`` renders the objects (pure): Namespace, ConfigMap, Secret, Pod, Service.
* ``deploy`` applies them, waits until the Pod is Ready (an error names why it is not, such as
  an image that is not loaded on the nodes), and returns an ``InClusterEmulator``.
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any

from stigg_devkit import kube
from stigg_emulator import __main__ as cli

NAME = "stigg-emulator"
PORT = 8080
MOUNT = "/emulator"
PACKAGE_DIR = pathlib.Path(__file__).resolve().parent
PACKAGE_SUFFIXES = (".py", ".yaml")
# Modules only a host process imports (they need stigg_devkit, which the image lacks).
HOST_ONLY = frozenset({"launcher.py", "in_cluster.py"})
PART_OF = {"app.kubernetes.io/part-of": "stigg-e2e"}  # the end-to-end suite's objects
LABELS = {"app.kubernetes.io/name": NAME, **PART_OF}


@dataclasses.dataclass(frozen=True)
class InClusterEmulator:
    """An emulator Pod: its URL as Pods reach it, its admin URL from this host, its key."""

    cluster: kube.Cluster
    namespace: str
    api_key: str

    @property
    def base_url(self) -> str:
        """The URL Pods reach it at: its Service, by name."""
        return f"http://{NAME}.{self.namespace}.svc:{PORT}"

    @property
    def admin_url(self) -> str:
        """``/_emulator`` from this host, through a port-forward (restarted if it died)."""
        return f"http://127.0.0.1:{self.cluster.port_forward(self.namespace, NAME, PORT)}/_emulator"


def package_files(directory: pathlib.Path = PACKAGE_DIR) -> dict[str, str]:
    """The emulator's source and sample catalog, by file name (a ConfigMap's data)."""
    return {
        path.name: path.read_text()
        for path in sorted(directory.iterdir())
        if path.suffix in PACKAGE_SUFFIXES and path.name not in HOST_ONLY
    }


def manifests(*, namespace: str, image: str, api_key: str, latency_ms: float = 0) -> list[dict[str, Any]]:
    """The objects of an emulator in ``namespace``, run on ``image`` (the sidecar image)."""
    meta = {"namespace": namespace, "labels": LABELS}
    container = {
        "name": "emulator",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": [
            "python",
            "-m",
            "stigg_emulator",
            "--host=0.0.0.0",
            f"--port={PORT}",
            f"--latency-ms={latency_ms}",
        ],
        "env": [
            {"name": "PYTHONPATH", "value": MOUNT},
            {"name": cli.API_KEY_ENV, "valueFrom": {"secretKeyRef": {"name": NAME, "key": "apiKey"}}},
        ],
        "ports": [{"name": "http", "containerPort": PORT}],
        "readinessProbe": {"httpGet": {"path": "/_emulator/healthz", "port": PORT}, "periodSeconds": 1},
        "volumeMounts": [{"name": "code", "mountPath": f"{MOUNT}/stigg_emulator", "readOnly": True}],
        "securityContext": kube.restricted_security_context(),
    }
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace, "labels": LABELS}},
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": NAME, **meta},
            "data": package_files(),
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": NAME, **meta},
            "stringData": {"apiKey": api_key},
        },
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": NAME, **meta},
            "spec": {
                "containers": [container],
                "volumes": [{"name": "code", "configMap": {"name": NAME}}],
                "terminationGracePeriodSeconds": 5,
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": NAME, **meta},
            "spec": {"selector": LABELS, "ports": [{"name": "http", "port": PORT, "targetPort": PORT}]},
        },
    ]


def deploy(
    cluster: kube.Cluster, *, namespace: str, image: str, api_key: str, timeout: float = 120
) -> InClusterEmulator:
    """Apply the emulator's objects and return once its Pod is Ready."""
    cluster.apply(*manifests(namespace=namespace, image=image, api_key=api_key))
    ready = cluster.kubectl(
        "-n",
        namespace,
        "wait",
        "--for=condition=Ready",
        f"pod/{NAME}",
        f"--timeout={timeout:.0f}s",
        check=False,
    )
    if "condition met" not in ready:
        raise kube.KubectlError(f"the emulator Pod is not Ready: {cluster.pod_trouble(namespace, NAME)}")
    return InClusterEmulator(cluster=cluster, namespace=namespace, api_key=api_key)
