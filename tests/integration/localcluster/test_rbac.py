"""RBAC is enforced: users outside system:masters get only what a binding grants them."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from kubernetes import client, config

from stigg_localcluster import cluster


@pytest.fixture
def impersonating(local_cluster: cluster.LocalCluster) -> Iterator[client.CoreV1Api]:
    """The admin's credentials, acting as the unprivileged user ``jane``."""
    api = config.new_client_from_config(config_file=str(local_cluster.kubeconfig_path))
    api.set_default_header("Impersonate-User", "jane")
    try:
        yield client.CoreV1Api(api)
    finally:
        api.close()


def test_impersonated_user_is_forbidden(impersonating: client.CoreV1Api, namespace: str) -> None:
    with pytest.raises(client.ApiException) as raised:
        impersonating.list_namespaced_pod(namespace)
    assert raised.value.status == 403
    message = json.loads(raised.value.body)["message"]
    assert 'User "jane" cannot list resource "pods"' in message


def test_role_binding_grants_only_its_namespace(
    api_client: client.ApiClient, impersonating: client.CoreV1Api, namespace: str
) -> None:
    rbac = client.RbacAuthorizationV1Api(api_client)
    rbac.create_namespaced_role(
        namespace,
        client.V1Role(
            metadata=client.V1ObjectMeta(name="pod-reader"),
            rules=[client.V1PolicyRule(api_groups=[""], resources=["pods"], verbs=["list"])],
        ),
    )
    rbac.create_namespaced_role_binding(
        namespace,
        client.V1RoleBinding(
            metadata=client.V1ObjectMeta(name="jane-reads-pods"),
            role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="Role", name="pod-reader"),
            subjects=[client.RbacV1Subject(kind="User", name="jane", api_group="rbac.authorization.k8s.io")],
        ),
    )
    assert impersonating.list_namespaced_pod(namespace).items == []
    with pytest.raises(client.ApiException) as in_other_namespace:
        impersonating.list_namespaced_pod("default")
    assert in_other_namespace.value.status == 403
    with pytest.raises(client.ApiException) as other_verb:
        impersonating.delete_collection_namespaced_pod(namespace)
    assert other_verb.value.status == 403


def test_certificate_user_is_forbidden(local_cluster: cluster.LocalCluster) -> None:
    """A client certificate signed by the cluster CA authenticates, but grants nothing by itself."""
    path = local_cluster.user_kubeconfig("bob", groups=["developers"])
    api = config.new_client_from_config(config_file=str(path))
    try:
        with pytest.raises(client.ApiException) as raised:
            client.CoreV1Api(api).list_namespace()
        assert raised.value.status == 403
        assert json.loads(raised.value.body)["message"].startswith('namespaces is forbidden: User "bob"')
    finally:
        api.close()
