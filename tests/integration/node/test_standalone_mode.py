"""Standalone mode on the real node: the operator runs one shared sidecar (Deployment, Service,
PodDisruptionBudget, NetworkPolicy, and an HPA on request) whose Pods the kubelet runs; an
opted-in application Pod gets only the Service's address, and its checks go through the
Service's name (CoreDNS) and ClusterIP (kube-proxy) to the shared sidecar; switching back to
Sidecar mode removes all of it and new Pods get the container again."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stigg_devkit import kube, waiting
from stigg_operator import keys, standalone
from tests.integration.node import conftest

NAME = "shop"
SHARED = keys.standalone_name(NAME)
RESOURCE = f"{keys.PLURAL}.{keys.GROUP}/{NAME}"


def _objects(local: kube.Cluster, namespace: str) -> dict[str, Any]:
    found = {}
    for kind in standalone.KINDS:
        group = kind.api_version.rpartition("/")[0]
        resource = f"{kind.plural}.{group}" if group else kind.plural
        listed = local.kubectl("get", resource, SHARED, "-n", namespace, "-o", "json", "--ignore-not-found")
        if listed.strip():
            found[kind.kind] = json.loads(listed)
    return found


def _status(local: kube.Cluster, namespace: str) -> dict[str, Any]:
    status: dict[str, Any] = local.get("-n", namespace, RESOURCE).get("status", {})
    return status


@pytest.mark.slow
def test_standalone_mode_serves_opted_in_pods_through_its_service(
    deployed: kube.Cluster, app_namespace: str, image_refs: dict[str, str]
) -> None:
    local, namespace = deployed, app_namespace
    patch = {"spec": {"mode": "Standalone", "defaults": {"feature-beta": {"hasAccess": True}}}}
    local.kubectl("-n", namespace, "patch", RESOURCE, "--type=merge", "-p", json.dumps(patch))
    objects = waiting.wait_for(
        lambda: len(found := _objects(local, namespace)) == 4 and found,
        what="the shared sidecar's objects",
        timeout=60,
    )
    assert set(objects) == {"Deployment", "Service", "PodDisruptionBudget", "NetworkPolicy"}
    owner = local.get("-n", namespace, RESOURCE)
    for obj in objects.values():
        assert [ref["uid"] for ref in obj["metadata"]["ownerReferences"]] == [owner["metadata"]["uid"]]
    assert objects["PodDisruptionBudget"]["spec"]["minAvailable"] == 1
    assert objects["NetworkPolicy"]["spec"]["ingress"][0]["ports"] == [{"port": 50051, "protocol": "TCP"}]

    # The kubelet runs the shared Deployment's Pods (not injected themselves) until Ready.
    local.kubectl("-n", namespace, "rollout", "status", f"deployment/{SHARED}", "--timeout=180s")
    shared = local.get("-n", namespace, "pods", "-l", f"app.kubernetes.io/instance={SHARED}")["items"]
    assert len(shared) == 2
    for pod in shared:
        assert [c["name"] for c in pod["spec"]["containers"]] == [keys.SIDECAR_CONTAINER]
        assert not pod["spec"].get("initContainers")
        assert pod["spec"]["containers"][0]["image"] == image_refs["sidecar"]
        assert all(s["ready"] for s in pod["status"]["containerStatuses"])
    status = waiting.wait_for(
        lambda: (s := _status(local, namespace)).get("standalone", {}).get("ready") == "2/2" and s,
        what="the status to count both ready replicas",
        timeout=60,
    )
    assert status["standalone"]["service"] == f"{SHARED}.{namespace}.svc:50051"

    # An opted-in app Pod gets the address only, and checks through the Service.
    live = conftest.run_pod(local, namespace, conftest.app_pod("app", image_refs["sidecar"]))
    assert not live["spec"].get("initContainers")
    env = {e["name"]: e.get("value") for e in live["spec"]["containers"][0]["env"]}
    assert env == {keys.APP_HOST_ENV: f"{SHARED}.{namespace}.svc", keys.APP_PORT_ENV: "50051"}
    assert "sidecar answered at start: yes" in local.kubectl("-n", namespace, "logs", "app")
    online = conftest.app_get(local, live, "/entitlement?customer=customer-pro&feature=feature-sso")
    assert (online["hasAccess"], online["isFallback"]) == (True, False)
    sidecar = shared[0]["spec"]["containers"][0]
    http = next(p["containerPort"] for p in sidecar["ports"] if p["name"] == keys.HTTP_PORT_NAME)
    readyz = conftest.http_json(local, shared[0], http, "/readyz")
    # feature-sso and feature-beta (the patch above) from the namespace's resource, and the two
    # of cluster-default (manifests/cluster-default.yaml), which every resource inherits
    assert readyz["defaults"] == 4, "the defaults ConfigMap reaches the shared sidecar"

    # An autoscaler on request.
    autoscale = {"spec": {"standalone": {"autoscaling": {"maxReplicas": 4}}}}
    local.kubectl("-n", namespace, "patch", RESOURCE, "--type=merge", "-p", json.dumps(autoscale))
    hpa = waiting.wait_for(
        lambda: _objects(local, namespace).get("HorizontalPodAutoscaler"), what="the HPA", timeout=60
    )
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 4)

    # Back to Sidecar mode: everything standalone goes; a new Pod gets the container again.
    back = {"spec": {"mode": "Sidecar", "standalone": None}}
    local.kubectl("-n", namespace, "patch", RESOURCE, "--type=merge", "-p", json.dumps(back))
    waiting.wait_for(lambda: not _objects(local, namespace), what="the standalone objects to go", timeout=60)
    waiting.wait_for(
        lambda: _status(local, namespace).get("mode") == "Sidecar", what="Sidecar mode", timeout=60
    )
    again = conftest.run_pod(local, namespace, conftest.app_pod("after", image_refs["sidecar"]))
    assert [c["name"] for c in again["spec"]["initContainers"]] == [keys.SIDECAR_CONTAINER]
