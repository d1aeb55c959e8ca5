"""Restarting the operator neither double-injects nor loses status, and keeps its CA."""

from __future__ import annotations

from kubernetes import client

from stigg_devkit import waiting
from stigg_operator import keys
from tests.integration.operator import conftest


def test_restart_keeps_status_ca_and_single_injection(
    api_client: client.ApiClient, namespace: str, operator: conftest.Operator
) -> None:
    core, custom = client.CoreV1Api(api_client), client.CustomObjectsApi(api_client)
    admission = client.AdmissionregistrationV1Api(api_client)
    core.patch_namespace(namespace, {"metadata": {"labels": {keys.NAMESPACE_INJECTION_LABEL: "enabled"}}})
    conftest.make_secret(api_client, namespace)
    custom.create_namespaced_custom_object(
        keys.GROUP, keys.VERSION, namespace, keys.PLURAL,
        conftest.make_resource("shop", {"apiKeySecretRef": {"name": "stigg-api-key"}}),
    )  # fmt: skip
    conftest.wait_ready(api_client, namespace, "shop")
    pod = client.V1Pod(
        metadata=client.V1ObjectMeta(name="before"),
        spec=client.V1PodSpec(containers=[client.V1Container(name="app", image="example/app:1")]),
    )
    core.create_namespaced_pod(namespace, pod)
    waiting.wait_for(
        lambda: conftest.resource_status(api_client, namespace, "shop").get("injectedPods") == 1,
        what="one injected Pod counted",
    )
    before = conftest.resource_status(api_client, namespace, "shop")
    ca_before = (
        admission.read_mutating_webhook_configuration(conftest.WEBHOOK_CONFIG)
        .webhooks[0]
        .client_config.ca_bundle
    )

    operator.stop()
    operator.start(api_client)

    ca_after = (
        admission.read_mutating_webhook_configuration(conftest.WEBHOOK_CONFIG)
        .webhooks[0]
        .client_config.ca_bundle
    )
    assert ca_after == ca_before, "the CA is kept in its Secret across restarts"
    pod.metadata.name = "after"
    after_pod = waiting.wait_for(
        lambda: _create(core, namespace, pod), what="the restarted webhook to inject"
    )
    assert [c.name for c in after_pod.spec.init_containers] == [keys.SIDECAR_CONTAINER]
    first = core.read_namespaced_pod("before", namespace)
    assert [c.name for c in first.spec.init_containers] == [keys.SIDECAR_CONTAINER], "never re-mutated"

    status = waiting.wait_for(
        lambda: (s := conftest.resource_status(api_client, namespace, "shop")).get("injectedPods") == 2 and s,
        what="both injected Pods counted after the restart",
    )
    ready_before = conftest.condition(before, "Ready")
    ready_after = conftest.condition(status, "Ready")
    assert ready_before is not None
    assert ready_after is not None
    assert ready_after["lastTransitionTime"] == ready_before["lastTransitionTime"], "status kept, not reset"
    assert status["observedGeneration"] == before["observedGeneration"]


def _create(core: client.CoreV1Api, namespace: str, pod: client.V1Pod) -> object:
    try:
        return core.create_namespaced_pod(namespace, pod)
    except client.ApiException as error:
        if error.status >= 500:  # the webhook still starting: the apiserver could not call it
            return None
        raise
