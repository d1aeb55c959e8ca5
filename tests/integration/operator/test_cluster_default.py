"""cluster-default (in the operator's namespace) is inherited by every namespace's resource, and
editing it reaches the namespaces that inherit; a namespace without a resource of its own is
served by cluster-default."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from kubernetes import client

from stigg_devkit import waiting
from stigg_localcluster import cluster
from stigg_operator import keys
from tests.integration.operator import conftest

CLUSTER_SPEC = {
    "apiKeySecretRef": {"name": "stigg-api-key"},
    "sidecar": {"logLevel": "warn"},
    "defaults": {"feature-a": {"hasAccess": True}, "feature-b": {"usageLimit": 5}},
}


@pytest.fixture
def cluster_default(api_client: client.ApiClient, operator: conftest.Operator) -> Iterator[None]:
    with conftest.cluster_default(api_client, CLUSTER_SPEC):
        yield


def _defaults(api: client.ApiClient, namespace: str, name: str) -> object:
    try:
        cm = client.CoreV1Api(api).read_namespaced_config_map(keys.configmap_name(name), namespace)
    except client.ApiException:
        return None
    return json.loads(cm.data[keys.DEFAULTS_FILE])


@pytest.mark.usefixtures("cluster_default")
def test_inheritance_and_cascade(api_client: client.ApiClient, namespace: str) -> None:
    custom = client.CustomObjectsApi(api_client)
    conftest.make_secret(api_client, namespace)
    own_defaults = {"feature-b": {"usageLimit": 50}, "feature-c": {"value": 3}}
    custom.create_namespaced_custom_object(
        keys.GROUP,
        keys.VERSION,
        namespace,
        keys.PLURAL,
        conftest.make_resource("shop", {"defaults": own_defaults}),
    )
    waiting.wait_for(
        lambda: (
            _defaults(api_client, namespace, "shop")
            == {"feature-a": {"hasAccess": True}, "feature-b": {"usageLimit": 50}, "feature-c": {"value": 3}}
        ),
        what="cluster-default's defaults merged into the namespace's ConfigMap",
    )
    ready = conftest.wait_ready(
        api_client,
        namespace,
        "shop",
        what="Ready=True with the API key Secret inherited from cluster-default",
    )
    assert ready["reason"] == "Reconciled"

    custom.patch_namespaced_custom_object(
        keys.GROUP, keys.VERSION, conftest.OPERATOR_NAMESPACE, keys.PLURAL, keys.CLUSTER_DEFAULT_NAME,
        {"spec": {"defaults": {"feature-a": {"hasAccess": False}}}},
    )  # fmt: skip
    waiting.wait_for(
        lambda: (_defaults(api_client, namespace, "shop") or {}).get("feature-a") == {"hasAccess": False},
        what="an edit of cluster-default to reach the inheriting namespace",
    )


@pytest.mark.usefixtures("cluster_default")
def test_namespace_without_resource_uses_cluster_default(
    api_client: client.ApiClient, namespace: str
) -> None:
    core = client.CoreV1Api(api_client)
    core.patch_namespace(namespace, {"metadata": {"labels": {keys.NAMESPACE_INJECTION_LABEL: "enabled"}}})
    pod = waiting.wait_for(
        lambda: _try_create(core, namespace),
        what="the webhook to know cluster-default",
    )
    sidecar = pod.spec.init_containers[0]
    env = {e.name: e.value for e in sidecar.env}
    assert env["LOG_LEVEL"] == "warn"
    assert json.loads(env["ENTITLEMENTS_FALLBACK"]) == CLUSTER_SPEC["defaults"]
    expected = f"{conftest.OPERATOR_NAMESPACE}/{keys.CLUSTER_DEFAULT_NAME}@"
    assert pod.metadata.annotations[keys.INJECTED_ANNOTATION].startswith(expected)


@pytest.mark.usefixtures("cluster_default")
def test_namespaces_served_by_cluster_default_get_its_defaults_configmap(
    api_client: client.ApiClient, namespace: str
) -> None:
    """The mounted volume names cluster-default's ConfigMap, which lives in the operator's
    namespace: the operator keeps a copy where Pods mount it, so defaults edits reach them."""
    core, custom = client.CoreV1Api(api_client), client.CustomObjectsApi(api_client)
    core.patch_namespace(namespace, {"metadata": {"labels": {keys.NAMESPACE_INJECTION_LABEL: "enabled"}}})
    pod = waiting.wait_for(lambda: _try_create(core, namespace), what="the webhook to know cluster-default")
    volume = next(v for v in pod.spec.volumes if v.name == keys.DEFAULTS_VOLUME)
    assert volume.config_map.name == keys.configmap_name(keys.CLUSTER_DEFAULT_NAME)
    waiting.wait_for(
        lambda: _defaults(api_client, namespace, keys.CLUSTER_DEFAULT_NAME) == CLUSTER_SPEC["defaults"],
        what="a copy of cluster-default's defaults in the Pod's namespace",
    )
    waiting.wait_for(  # the status is patched just after the copy is written
        lambda: (
            namespace
            in (
                conftest.resource_status(
                    api_client, conftest.OPERATOR_NAMESPACE, keys.CLUSTER_DEFAULT_NAME
                ).get("defaultsCopies")
                or []
            )
        ),
        what="cluster-default's status to list the copy",
    )

    custom.patch_namespaced_custom_object(
        keys.GROUP, keys.VERSION, conftest.OPERATOR_NAMESPACE, keys.PLURAL, keys.CLUSTER_DEFAULT_NAME,
        {"spec": {"defaults": {"feature-a": {"hasAccess": False}}}},
    )  # fmt: skip
    waiting.wait_for(
        lambda: (
            (_defaults(api_client, namespace, keys.CLUSTER_DEFAULT_NAME) or {}).get("feature-a")
            == {"hasAccess": False}
        ),
        what="the edit to reach the copy",
    )

    core.delete_namespaced_pod(pod.metadata.name, namespace)
    waiting.wait_for(
        lambda: _defaults(api_client, namespace, keys.CLUSTER_DEFAULT_NAME) is None,
        what="the copy to go once no Pod needs it",
    )


def _try_create(core: client.CoreV1Api, namespace: str) -> object:
    pod = client.V1Pod(
        metadata=client.V1ObjectMeta(generate_name="app-"),
        spec=client.V1PodSpec(containers=[client.V1Container(name="app", image="example/app:1")]),
    )
    try:
        return core.create_namespaced_pod(namespace, pod)
    except client.ApiException as error:
        if "no StiggEntitlements" in str(error.body):
            return None
        raise


@pytest.mark.usefixtures("cluster_default")
def test_a_pod_served_by_cluster_default_is_warned_of_the_secret_it_needs(
    local_cluster: cluster.LocalCluster, api_client: client.ApiClient, namespace: str
) -> None:
    """Its sidecar reads the key from a Secret of cluster-default's name in the Pod's own
    namespace (a secretKeyRef cannot cross namespaces): the admission says so."""
    core = client.CoreV1Api(api_client)
    core.patch_namespace(namespace, {"metadata": {"labels": {keys.NAMESPACE_INJECTION_LABEL: "enabled"}}})
    waiting.wait_for(lambda: _try_create(core, namespace), what="the webhook to know cluster-default")
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "warned"},
           "spec": {"containers": [{"name": "app", "image": "example/app:1"}]}}  # fmt: skip
    admitted, warnings = conftest.create_with_warnings(local_cluster, namespace, pod)
    assert admitted["spec"]["initContainers"][0]["name"] == keys.SIDECAR_CONTAINER
    assert (
        f"served by StiggEntitlements {conftest.OPERATOR_NAMESPACE}/{keys.CLUSTER_DEFAULT_NAME}: the sidecar "
        f"reads its API key from Secret stigg-api-key (key SERVER_API_KEY) in namespace {namespace}"
    ) in " ".join(warnings.split())
