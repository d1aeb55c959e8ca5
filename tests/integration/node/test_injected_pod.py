"""The product as users run it, on the real kubelet: the operator is a Pod of the project's own
image, deployed by ``kubectl apply -k``; the apiserver calls its webhook through its Service;
an application Pod in an opted-in namespace gets the sidecar image as a native sidecar, and
the application reaches it over localhost, the sidecar reaching the upstream emulator (a Pod)
through its Service."""

from __future__ import annotations

import json

from stigg_devkit import kube
from stigg_operator import keys
from tests.integration.node import conftest


def test_the_operator_runs_as_a_pod_of_its_image(deployed: kube.Cluster, image_refs: dict[str, str]) -> None:
    pods = [
        p
        for p in deployed.get("pods", "-n", conftest.OPERATOR_NAMESPACE)["items"]
        if not p["metadata"].get("deletionTimestamp")
    ]
    assert len(pods) == 2, "two replicas"
    for pod in pods:
        assert pod["metadata"]["name"].startswith("stigg-operator-")
        assert pod["spec"]["containers"][0]["image"] == image_refs["operator"]
        assert pod["status"]["phase"] == "Running"
        (status,) = pod["status"]["containerStatuses"]
        assert status["ready"] is True
        assert status["restartCount"] == 0, (
            status.get("lastState"),
            deployed.kubectl(
                "-n", conftest.OPERATOR_NAMESPACE, "logs", pod["metadata"]["name"], "--previous", "--tail=60",
                check=False,
            ),
        )  # fmt: skip
    holder = deployed.get("-n", conftest.OPERATOR_NAMESPACE, "lease", "stigg-operator")["spec"][
        "holderIdentity"
    ]
    assert holder.split("_")[0] in {p["metadata"]["name"] for p in pods}, "one of them leads"
    webhook = deployed.get("mutatingwebhookconfiguration", conftest.WEBHOOK_CONFIGURATION)["webhooks"][0]
    assert webhook["clientConfig"]["service"] == {
        "name": "stigg-operator",
        "namespace": conftest.OPERATOR_NAMESPACE,
        "path": webhook["clientConfig"]["service"]["path"],
        "port": 443,
    }


def test_an_injected_pod_runs_the_sidecar_beside_a_real_app(
    deployed: kube.Cluster,
    app_namespace: str,
    image_refs: dict[str, str],
    emulator_in_cluster: str,
) -> None:
    pod = conftest.app_pod("shop", image_refs["sidecar"])
    deployed.kubectl("-n", app_namespace, "apply", "-f", "-", input_text=json.dumps(pod))
    deployed.kubectl("-n", app_namespace, "wait", "--for=condition=Ready", "pod/shop", "--timeout=90s")
    live = deployed.get("-n", app_namespace, "pod/shop")
    (sidecar,) = live["spec"]["initContainers"]
    assert sidecar["name"] == keys.SIDECAR_CONTAINER
    assert sidecar["restartPolicy"] == "Always"  # a native sidecar
    assert sidecar["image"] == image_refs["sidecar"]
    statuses = {
        s["name"]: s for s in live["status"]["initContainerStatuses"] + live["status"]["containerStatuses"]
    }
    assert statuses[keys.SIDECAR_CONTAINER]["ready"]
    assert statuses["app"]["ready"]

    answer = conftest.app_get(deployed, live, "/entitlement?customer=customer-pro&feature=feature-sso")
    assert answer["hasAccess"] is True
    assert answer["isFallback"] is False
    denied = conftest.app_get(deployed, live, "/entitlement?customer=customer-free&feature=feature-sso")
    assert denied["hasAccess"] is False
    assert denied["isFallback"] is False
    logs = deployed.kubectl("-n", app_namespace, "logs", "shop", "-c", "app")
    assert "check customer=customer-pro feature=feature-sso" in logs
    sidecar_logs = deployed.kubectl("-n", app_namespace, "logs", "shop", "-c", keys.SIDECAR_CONTAINER)
    assert f"(upstream {conftest.upstream_spec(emulator_in_cluster)['apiUrl']})" in sidecar_logs
