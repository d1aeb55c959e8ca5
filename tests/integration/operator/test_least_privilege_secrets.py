"""No Secret data outside its own certificate: impersonating the operator's ServiceAccount (with
``manifests/rbac.yaml`` and the admission policies really applied), the apiserver refuses to get
a kube-system Secret, a Secret of an ordinary namespace (a StiggEntitlements' API key) and any
other Secret of its own namespace, and to list or watch Secrets; it may get its webhook
certificate Secret by name. Each Secret exists, so a refusal is RBAC's (403), not a 404."""

from __future__ import annotations

import base64

import pytest
from kubernetes import client

from tests.integration.operator import conftest

CERT_SECRET = "stigg-operator-webhook-certs"


def _secret(core: client.CoreV1Api, namespace: str, name: str) -> None:
    body = client.V1Secret(
        metadata=client.V1ObjectMeta(name=name), data={"token": base64.b64encode(b"s3cret").decode()}
    )
    try:
        core.create_namespaced_secret(namespace, body)
    except client.ApiException as error:
        if error.status != 409:
            raise


@pytest.mark.parametrize(
    ("where", "name"),
    [
        ("kube-system", "stigg-lp-kube-system-token"),
        ("namespace", "stigg-api-key"),
        ("stigg-system", "other"),
    ],
)
def test_the_operator_cannot_get_a_secret(
    api_client: client.ApiClient, operator_identity: client.ApiClient, namespace: str, where: str, name: str
) -> None:
    target = namespace if where == "namespace" else where
    _secret(client.CoreV1Api(api_client), target, name)
    as_operator = client.CoreV1Api(operator_identity)
    status, message = conftest.refusal(lambda: as_operator.read_namespaced_secret(name, target))
    assert status == 403, message
    assert f'cannot get resource "secrets" in API group "" in the namespace "{target}"' in message, message


def test_the_operator_cannot_list_or_watch_secrets(
    operator_identity: client.ApiClient, namespace: str
) -> None:
    as_operator = client.CoreV1Api(operator_identity)
    for call in (
        as_operator.list_secret_for_all_namespaces,
        lambda: as_operator.list_namespaced_secret("kube-system"),
        lambda: as_operator.list_namespaced_secret(namespace, watch=True, timeout_seconds=1),
        lambda: as_operator.list_namespaced_secret(conftest.OPERATOR_NAMESPACE),
    ):
        status, message = conftest.refusal(call)
        assert status == 403, message


def test_the_operator_gets_its_own_certificate_secret(
    api_client: client.ApiClient, operator_identity: client.ApiClient
) -> None:
    core, ns = client.CoreV1Api(api_client), conftest.OPERATOR_NAMESPACE
    made = CERT_SECRET not in {s.metadata.name for s in core.list_namespaced_secret(ns).items}
    if made:  # else an operator of another module made it: leave it
        _secret(core, ns, CERT_SECRET)
    try:
        found = client.CoreV1Api(operator_identity).read_namespaced_secret(CERT_SECRET, ns)
        assert found.metadata.name == CERT_SECRET
    finally:
        if made:
            core.delete_namespaced_secret(CERT_SECRET, ns)
