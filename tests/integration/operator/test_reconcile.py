"""Reconciliation against the local control plane: the defaults ConfigMap follows the resource,
status reports Ready/Degraded with reasons, and deleting the resource deletes what it owns."""

from __future__ import annotations

import json

from kubernetes import client

from stigg_devkit import waiting
from stigg_operator import keys
from tests.integration.operator import conftest


def _configmap_defaults(api: client.ApiClient, namespace: str, name: str) -> dict[str, object] | None:
    try:
        cm = client.CoreV1Api(api).read_namespaced_config_map(keys.configmap_name(name), namespace)
    except client.ApiException:
        return None
    document: dict[str, object] = json.loads(cm.data[keys.DEFAULTS_FILE])
    return document


def test_configmap_status_update_and_delete(
    api_client: client.ApiClient, namespace: str, operator: conftest.Operator
) -> None:
    custom = client.CustomObjectsApi(api_client)
    conftest.make_secret(api_client, namespace)
    custom.create_namespaced_custom_object(
        keys.GROUP,
        keys.VERSION,
        namespace,
        keys.PLURAL,
        conftest.make_resource(
            "shop",
            {"apiKeySecretRef": {"name": "stigg-api-key"}, "defaults": {"feature-a": {"hasAccess": True}}},
        ),
    )
    waiting.wait_for(
        lambda: _configmap_defaults(api_client, namespace, "shop") == {"feature-a": {"hasAccess": True}},
        what="the defaults ConfigMap",
    )
    status = waiting.wait_for(
        lambda: (
            (s := conftest.resource_status(api_client, namespace, "shop"))
            and (conftest.condition(s, "Ready") or {}).get("status") == "True"
            and s
        ),
        what="Ready=True",
    )
    assert status["observedGeneration"] == 1
    assert status["configMap"] == keys.configmap_name("shop")
    assert (conftest.condition(status, "Degraded") or {})["status"] == "False"

    custom.patch_namespaced_custom_object(
        keys.GROUP, keys.VERSION, namespace, keys.PLURAL, "shop",
        {"spec": {"defaults": {"feature-b": {"usageLimit": 10}}}},
    )  # fmt: skip
    waiting.wait_for(
        lambda: (
            _configmap_defaults(api_client, namespace, "shop")
            == {"feature-a": {"hasAccess": True}, "feature-b": {"usageLimit": 10}}
        ),
        what="the edited defaults in the ConfigMap",
    )
    waiting.wait_for(
        lambda: conftest.resource_status(api_client, namespace, "shop").get("observedGeneration") == 2,
        what="observedGeneration 2",
    )

    custom.delete_namespaced_custom_object(keys.GROUP, keys.VERSION, namespace, keys.PLURAL, "shop")
    waiting.wait_for(
        lambda: _configmap_defaults(api_client, namespace, "shop") is None,
        timeout=90,  # the garbage collector notices a new CRD at its next discovery resync (30 s)
        what="the garbage collector to delete the owned ConfigMap",
    )


def test_someone_elses_configmap_is_never_taken_over(
    api_client: client.ApiClient, namespace: str, operator: conftest.Operator
) -> None:
    core = client.CoreV1Api(api_client)
    theirs = {"defaults.json": '{"mine": {"hasAccess": true}}'}
    core.create_namespaced_config_map(
        namespace,
        client.V1ConfigMap(metadata=client.V1ObjectMeta(name=keys.configmap_name("shop")), data=theirs),
    )
    conftest.make_secret(api_client, namespace)
    client.CustomObjectsApi(api_client).create_namespaced_custom_object(
        keys.GROUP, keys.VERSION, namespace, keys.PLURAL,
        conftest.make_resource("shop", {"apiKeySecretRef": {"name": "stigg-api-key"}}),
    )  # fmt: skip
    ready = waiting.wait_for(
        lambda: conftest.condition(conftest.resource_status(api_client, namespace, "shop"), "Ready"),
        what="a Ready condition",
    )
    assert (ready["status"], ready["reason"]) == ("False", "ConfigMapConflict")
    assert "exists and is not ours" in ready["message"]
    kept = core.read_namespaced_config_map(keys.configmap_name("shop"), namespace)
    assert kept.data == theirs
    assert not kept.metadata.owner_references
