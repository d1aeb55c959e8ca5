"""The product as users run it, on the real kubelet: the operator is a Pod of the project's own
image, deployed by ``kubectl apply -k``; the apiserver calls its webhook through its Service;
an application Pod in an opted-in namespace gets the sidecar image as a native sidecar, and
the application reaches it over localhost, the sidecar reaching the upstream emulator at the
node's address."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from stigg_devkit import images
from stigg_localcluster import cluster
from stigg_operator import keys
from tests.integration.node import conftest


def _app_get(local: cluster.LocalCluster, pod_ip: str, path: str) -> Any:
    port = local.forward(pod_ip, conftest.APP_PORT)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
        return json.load(response)


def test_the_operator_runs_as_a_pod_of_its_image(
    deployed: cluster.LocalCluster, built_images: dict[str, images.Image]
) -> None:
    pods = conftest.get(deployed, "pods", "-n", conftest.OPERATOR_NAMESPACE)["items"]
    (pod,) = pods
    assert pod["metadata"]["name"].startswith("stigg-operator-")
    assert pod["spec"]["containers"][0]["image"] == built_images["operator"].ref
    assert pod["status"]["phase"] == "Running"
    (status,) = pod["status"]["containerStatuses"]
    assert status["ready"] is True
    assert status["restartCount"] == 0
    webhook = conftest.get(deployed, "mutatingwebhookconfigurations")["items"][0]["webhooks"][0]
    assert webhook["clientConfig"]["service"] == {
        "name": "stigg-operator",
        "namespace": conftest.OPERATOR_NAMESPACE,
        "path": webhook["clientConfig"]["service"]["path"],
        "port": 443,
    }


def test_an_injected_pod_runs_the_sidecar_beside_a_real_app(
    deployed: cluster.LocalCluster,
    app_namespace: str,
    built_images: dict[str, images.Image],
    emulator_in_cluster: str,
) -> None:
    pod = conftest.app_pod("shop", built_images["sidecar"].ref)
    deployed.kubectl("-n", app_namespace, "apply", "-f", "-", input_text=json.dumps(pod))
    deployed.kubectl("-n", app_namespace, "wait", "--for=condition=Ready", "pod/shop", "--timeout=90s")
    live = conftest.get(deployed, "-n", app_namespace, "pod/shop")
    (sidecar,) = live["spec"]["initContainers"]
    assert sidecar["name"] == keys.SIDECAR_CONTAINER
    assert sidecar["restartPolicy"] == "Always"  # a native sidecar
    assert sidecar["image"] == built_images["sidecar"].ref
    statuses = {
        s["name"]: s for s in live["status"]["initContainerStatuses"] + live["status"]["containerStatuses"]
    }
    assert statuses[keys.SIDECAR_CONTAINER]["ready"]
    assert statuses["app"]["ready"]

    pod_ip = live["status"]["podIP"]
    answer = _app_get(deployed, pod_ip, "/entitlement?customer=customer-pro&feature=feature-sso")
    assert answer["hasAccess"] is True
    assert answer["isFallback"] is False
    denied = _app_get(deployed, pod_ip, "/entitlement?customer=customer-free&feature=feature-sso")
    assert denied["hasAccess"] is False
    assert denied["isFallback"] is False
    logs = deployed.kubectl("-n", app_namespace, "logs", "shop", "-c", "app")
    assert "check customer=customer-pro feature=feature-sso" in logs
    sidecar_logs = deployed.kubectl("-n", app_namespace, "logs", "shop", "-c", keys.SIDECAR_CONTAINER)
    assert f"(upstream {conftest.upstream_spec(emulator_in_cluster)['apiUrl']})" in sidecar_logs
