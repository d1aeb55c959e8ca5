"""What the webhook reads from the API on an index miss (``kube.entitlements``), against the
real apiserver: a namespace's own StiggEntitlements and cluster-default, in the index's shape,
so the same selection rule serves the Pod; a namespace with neither lists nothing (and the
webhook then denies, as ``test_injection_e2e`` shows end to end)."""

from __future__ import annotations

import pytest
from kubernetes import client

from stigg_devkit import waiting
from stigg_operator import keys, model, reconciler
from stigg_operator.kube import entitlements
from tests.integration.operator import conftest

SPEC = {"apiKeySecretRef": {"name": "stigg-api-key"}}


@pytest.mark.usefixtures("crd")
def test_the_lister_finds_the_namespaces_resource_and_cluster_default(
    api_client: client.ApiClient, namespace: str
) -> None:
    custom = client.CustomObjectsApi(api_client)
    core = client.CoreV1Api(api_client)
    conftest.ensure_namespace(core, conftest.OPERATOR_NAMESPACE)
    assert entitlements.serving_candidates(api_client, namespace, conftest.OPERATOR_NAMESPACE).keys() <= {
        (conftest.OPERATOR_NAMESPACE, keys.CLUSTER_DEFAULT_NAME)
    }, "nothing of the namespace's own yet"

    custom.create_namespaced_custom_object(
        keys.GROUP, keys.VERSION, namespace, keys.PLURAL, conftest.make_resource("billing", SPEC)
    )
    listed = waiting.wait_for(
        lambda: (
            (found := entitlements.serving_candidates(api_client, namespace, conftest.OPERATOR_NAMESPACE))
            and (namespace, "billing") in found
            and found
        ),
        what="the new resource listed",
    )
    (entry,) = listed[(namespace, "billing")]
    stored = custom.get_namespaced_custom_object(keys.GROUP, keys.VERSION, namespace, keys.PLURAL, "billing")
    assert entry == reconciler.entry(stored), "the index's own shape, of the object as stored"
    assert entry["spec"]["apiKeySecretRef"]["name"] == "stigg-api-key"
    serving = model.select(conftest.OPERATOR_NAMESPACE, namespace, {}, listed)
    assert (serving.namespace, serving.name) == (namespace, "billing")
