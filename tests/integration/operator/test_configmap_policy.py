"""The ValidatingAdmissionPolicy in the manifests bounds what RBAC cannot: the operator's
ServiceAccount may write only its own ``*-stigg-defaults`` ConfigMaps, anywhere."""

from __future__ import annotations

import json
import pathlib
from collections.abc import Iterator

import pytest
from kubernetes import client, config

from stigg_devkit import waiting
from stigg_localcluster import cluster

ROOT = pathlib.Path(__file__).resolve().parents[3]
OPERATOR_USER = "system:serviceaccount:stigg-system:stigg-operator"


@pytest.fixture
def as_operator(local_cluster: cluster.LocalCluster) -> Iterator[client.CoreV1Api]:
    """Admin credentials impersonating the operator's ServiceAccount (with its RBAC applied)."""
    local_cluster.kubectl("apply", "-f", str(ROOT / "manifests" / "namespace.yaml"))
    for name in ("serviceaccount.yaml", "rbac.yaml", "configmap-policy.yaml"):
        local_cluster.kubectl("apply", "-f", str(ROOT / "manifests" / name))
    api = config.new_client_from_config(config_file=str(local_cluster.kubeconfig_path))
    api.set_default_header("Impersonate-User", OPERATOR_USER)
    api.set_default_header("Impersonate-Group", "system:serviceaccounts")
    try:
        yield client.CoreV1Api(api)
    finally:
        api.close()
        local_cluster.kubectl("delete", "-f", str(ROOT / "manifests" / "configmap-policy.yaml"))


def _configmap(name: str, managed: bool) -> client.V1ConfigMap:
    labels = {"app.kubernetes.io/managed-by": "stigg-operator"} if managed else None
    return client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name, labels=labels), data={"k": "v"})


def _wait_in_force(as_operator: client.CoreV1Api, namespace: str) -> None:
    """The apiserver takes a moment to apply a new policy: probe until it denies, everywhere."""
    probes = iter(range(10_000))

    def denied_in(where: str) -> bool:
        name = f"probe-{next(probes)}"
        try:
            as_operator.create_namespaced_config_map(where, _configmap(name, managed=True))
        except client.ApiException as error:
            if error.status == 403 and "may only write its own" in str(error.body):
                return True
            if error.status == 403:
                return False  # the RBAC just applied is not in force yet
            raise
        return False

    waiting.wait_for(
        lambda: all(denied_in(where) for where in ("kube-system", namespace)),
        what="the policy to be in force",
    )


def test_operator_writes_only_its_own_configmaps(as_operator: client.CoreV1Api, namespace: str) -> None:
    _wait_in_force(as_operator, namespace)
    as_operator.create_namespaced_config_map(namespace, _configmap("shop-stigg-defaults", managed=True))
    for name, managed, where in (
        ("aws-auth", True, "kube-system"),
        ("app-settings", True, namespace),
        ("other-stigg-defaults", False, namespace),
    ):
        with pytest.raises(client.ApiException) as raised:
            as_operator.create_namespaced_config_map(where, _configmap(name, managed))
        assert raised.value.status == 403
        message = json.loads(raised.value.body)["message"]
        assert "may only write its own *-stigg-defaults ConfigMaps" in message


def test_operator_deletes_only_its_own_configmaps(
    as_operator: client.CoreV1Api, api_client: client.ApiClient, namespace: str
) -> None:
    admin = client.CoreV1Api(api_client)
    probes = iter(range(10_000))

    def delete_denied() -> bool:
        """Someone else's ConfigMap: the operator's delete must be refused by the policy."""
        name = f"app-settings-{next(probes)}"
        admin.create_namespaced_config_map(namespace, _configmap(name, managed=False))
        try:
            as_operator.delete_namespaced_config_map(name, namespace)
        except client.ApiException as error:
            if error.status == 403 and "may only write its own" in str(error.body):
                return True
            if error.status == 403:
                return False  # the RBAC just applied is not in force yet
            raise
        return False  # the policy, just (re)applied, is not in force yet

    # Three refusals in a row: the policy is in force (and the one before it is gone).
    waiting.wait_for(lambda: all(delete_denied() for _ in range(3)), what="the policy to refuse deletes")
    admin.create_namespaced_config_map(namespace, _configmap("shop-stigg-defaults", managed=True))
    as_operator.delete_namespaced_config_map("shop-stigg-defaults", namespace)
    remaining = {c.metadata.name for c in admin.list_namespaced_config_map(namespace).items}
    assert "shop-stigg-defaults" not in remaining
