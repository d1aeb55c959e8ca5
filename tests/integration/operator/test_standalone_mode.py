"""Standalone mode: the operator runs one shared sidecar (Deployment, Service,
PodDisruptionBudget, NetworkPolicy, and an HPA on request); opted-in Pods get only its address;
the Pod runner runs the shared sidecar from its Pod spec and a check through the Service's
ClusterIP answers; switching back to Sidecar mode removes all of it."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
from kubernetes import client

from stigg_devkit import waiting
from stigg_emulator import launcher
from stigg_localcluster import podrunner
from stigg_operator import keys, standalone
from stigg_operator.kube import rest
from stigg_sidecar import client as sidecar_client
from tests.integration.operator import conftest

NAME = "shop"
SHARED = keys.standalone_name(NAME)


def _objects(api: client.ApiClient, namespace: str) -> dict[str, Any]:
    found = {}
    for kind in standalone.KINDS:
        obj = rest.get(api, kind.api_version, kind.plural, namespace, SHARED)
        if obj is not None:
            found[kind.kind] = obj
    return found


def _app_pod(core: client.CoreV1Api, namespace: str, name: str) -> Any:
    return core.create_namespaced_pod(
        namespace,
        client.V1Pod(
            metadata=client.V1ObjectMeta(name=name),
            spec=client.V1PodSpec(containers=[client.V1Container(name="app", image="example/app:1")]),
        ),
    )


@pytest.mark.slow
def test_standalone_mode_serves_opted_in_pods_through_its_service(
    api_client: client.ApiClient,
    namespace: str,
    operator: conftest.Operator,
    emulator: launcher.RunningEmulator,
    runner: podrunner.PodRunner,
) -> None:
    core, custom = client.CoreV1Api(api_client), client.CustomObjectsApi(api_client)
    core.patch_namespace(namespace, {"metadata": {"labels": {keys.NAMESPACE_INJECTION_LABEL: "enabled"}}})
    conftest.make_secret(api_client, namespace)
    spec = {
        "mode": "Standalone",
        "apiKeySecretRef": {"name": "stigg-api-key"},
        "upstream": {"edgeApiUrl": emulator.base_url, "apiUrl": emulator.base_url, "realtime": False},
        "defaults": {"feature-beta": {"hasAccess": True}},
    }
    custom.create_namespaced_custom_object(
        keys.GROUP, keys.VERSION, namespace, keys.PLURAL, conftest.make_resource(NAME, spec)
    )
    conftest.wait_ready(api_client, namespace, NAME)
    objects = waiting.wait_for(
        lambda: len(found := _objects(api_client, namespace)) == 4 and found,
        what="the shared sidecar's objects",
    )
    assert set(objects) == {"Deployment", "Service", "PodDisruptionBudget", "NetworkPolicy"}
    owner = custom.get_namespaced_custom_object(keys.GROUP, keys.VERSION, namespace, keys.PLURAL, NAME)
    for obj in objects.values():
        assert [ref["uid"] for ref in obj["metadata"]["ownerReferences"]] == [owner["metadata"]["uid"]]
    assert objects["PodDisruptionBudget"]["spec"]["minAvailable"] == 1
    ingress = objects["NetworkPolicy"]["spec"]["ingress"][0]
    assert ingress["ports"] == [{"port": 50051, "protocol": "TCP"}]
    assert ingress["from"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": namespace,
        keys.NAMESPACE_INJECTION_LABEL: "enabled",
    }
    status = waiting.wait_for(
        lambda: (s := conftest.resource_status(api_client, namespace, NAME)).get("standalone") and s,
        what="the standalone status",
    )
    assert status["mode"] == "Standalone"
    assert status["standalone"]["service"] == f"{SHARED}.{namespace}.svc:50051"

    # An opted-in Pod gets the address only: no container, no volume.
    app = _app_pod(core, namespace, "app")
    assert not app.spec.init_containers
    assert not app.spec.volumes or all(v.name.startswith("kube-api-access") for v in app.spec.volumes)
    env = {e.name: e.value for e in app.spec.containers[0].env}
    assert env == {keys.APP_HOST_ENV: f"{SHARED}.{namespace}.svc", keys.APP_PORT_ENV: "50051"}
    assert app.metadata.labels[keys.INJECTED_LABEL] == "true"

    # The shared Deployment's own Pods (made by the controller-manager) are not injected.
    shared_pods = waiting.wait_for(
        lambda: (
            len(
                items := core.list_namespaced_pod(
                    namespace, label_selector=f"app.kubernetes.io/instance={SHARED}"
                ).items
            )
            == 2
            and items
        ),
        what="the shared sidecar's two Pods",
    )
    assert all([c.name for c in pod.spec.containers] == [keys.SIDECAR_CONTAINER] for pod in shared_pods)
    assert all(not pod.spec.init_containers for pod in shared_pods)

    # The Pod runner runs one of them; the Service's ClusterIP reaches it.
    shared = runner.run(api_client.sanitize_for_serialization(shared_pods[0]), keys.SIDECAR_CONTAINER)
    shared.wait_probe("startupProbe")
    conftest.mark_ready(core, namespace, shared_pods[0].metadata.name)
    service = core.read_namespaced_service(SHARED, namespace)
    proxy = runner.expose(api_client.sanitize_for_serialization(service))
    with sidecar_client.SidecarClient(
        f"{service.spec.cluster_ip}:{env[keys.APP_PORT_ENV]}", timeout=5
    ) as checks:
        online = checks.get_boolean_entitlement("customer-pro", "feature-sso")
        assert (online.has_access, online.is_fallback) == (True, False)
    readyz = f"http://{service.spec.cluster_ip}:{shared.ports[keys.HTTP_PORT_NAME]}/readyz"
    with urllib.request.urlopen(readyz, timeout=5) as answer:
        assert json.loads(answer.read())["defaults"] == 1, "the defaults ConfigMap reaches the shared sidecar"
    assert proxy.connections >= 1
    waiting.wait_for(
        lambda: conftest.resource_status(api_client, namespace, NAME)["standalone"]["ready"] == "1/2",
        what="the status to count the ready replica",
    )

    # An autoscaler on request, gone again when no longer asked for.
    custom.patch_namespaced_custom_object(
        keys.GROUP,
        keys.VERSION,
        namespace,
        keys.PLURAL,
        NAME,
        {"spec": {"standalone": {"autoscaling": {"maxReplicas": 4}}}},
    )
    hpa = waiting.wait_for(
        lambda: _objects(api_client, namespace).get("HorizontalPodAutoscaler"), what="the HPA"
    )
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 4)

    # Back to Sidecar mode: everything standalone goes, and new Pods get the container again.
    custom.patch_namespaced_custom_object(
        keys.GROUP,
        keys.VERSION,
        namespace,
        keys.PLURAL,
        NAME,
        {"spec": {"mode": "Sidecar", "standalone": None}},
    )
    waiting.wait_for(lambda: not _objects(api_client, namespace), what="the standalone objects to be removed")
    status = waiting.wait_for(
        lambda: (s := conftest.resource_status(api_client, namespace, NAME)).get("mode") == "Sidecar" and s,
        what="the status to show Sidecar mode",
    )
    assert "standalone" not in status
    assert "opt-in-deployments' failed" not in operator.log(), (
        "the shared Deployment is not a workload to opt in"
    )
    again = waiting.wait_for(
        lambda: _try_pod(core, namespace, "after"), what="a Pod injected in Sidecar mode"
    )
    assert [c.name for c in again.spec.init_containers] == [keys.SIDECAR_CONTAINER]


def _try_pod(core: client.CoreV1Api, namespace: str, name: str) -> Any:
    """Create the Pod once the webhook's index has the new mode (else delete it and retry)."""
    pod = _app_pod(core, namespace, name)
    if pod.spec.init_containers:
        return pod
    core.delete_namespaced_pod(name, namespace, grace_period_seconds=0)
    waiting.wait_for(
        lambda: not [p for p in core.list_namespaced_pod(namespace).items if p.metadata.name == name],
        what="deleted",
    )
    return None
