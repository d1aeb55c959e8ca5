"""The operator's Warning Events on cluster-default, on the real apiserver with the operator as a
process (status refresh every second), each provoked as it happens in a cluster and each posted
once however many rounds repeat its cause:

* ``DefaultsCopyConflict`` (``upkeep.defaults_copies``): a namespace cluster-default serves
  already has a ConfigMap of its defaults ConfigMap's name that is not a copy: left alone, and
  said, naming the ConfigMap and the fix;
* ``ReconcileFailed`` (``reconciler.report_failure``, from the periodic refresh): a namespace
  cluster-default serves has a ResourceQuota whose ConfigMap count is used up: the apiserver
  refuses the copy of the defaults (``exceeded quota``), which fails cluster-default's whole
  reconcile, every round until the quota allows it. (A namespace terminating under an injected
  Pod does not do it on the Kubernetes here, 1.37: ordered namespace deletion, KEP-5080,
  deletes the Pods first and the ConfigMaps only once they are gone, when no copy is needed
  any more; tried with a finalizer holding the Pod, the copy stayed and nothing failed.)
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from stigg_devkit import waiting
from stigg_operator import keys
from tests.integration.operator import conftest

CLUSTER_SPEC = {"apiKeySecretRef": {"name": "stigg-api-key"}, "defaults": {"feature-a": {"hasAccess": True}}}
COPY_NAME = keys.configmap_name(keys.CLUSTER_DEFAULT_NAME)
ROUNDS = 4  # refresh rounds (one a second) watched after the first Event: none may add another
QUOTA = {"count/configmaps": "1"}


@pytest.fixture
def cluster_default(api_client: client.ApiClient, operator: conftest.Operator) -> Iterator[str]:
    """cluster-default's uid (its Events are told apart from earlier tests' by it)."""
    with conftest.cluster_default(api_client, CLUSTER_SPEC) as uid:
        yield uid


def _status(api: client.ApiClient) -> dict[str, Any]:
    return conftest.resource_status(api, conftest.OPERATOR_NAMESPACE, keys.CLUSTER_DEFAULT_NAME)


def _events(api: client.ApiClient, uid: str, reason: str, mentioning: str) -> list[client.CoreV1Event]:
    """This test's cluster-default's (by uid) Events of ``reason`` whose message mentions ``mentioning``."""
    listed = client.CoreV1Api(api).list_namespaced_event(
        conftest.OPERATOR_NAMESPACE,
        field_selector=f"involvedObject.name={keys.CLUSTER_DEFAULT_NAME},reason={reason}",
    )
    return [e for e in listed.items if e.involved_object.uid == uid and mentioning in (e.message or "")]


def _served_pod(core: client.CoreV1Api, namespace: str) -> Any:
    """A Pod cluster-default serves (retried until the webhook knows cluster-default)."""
    pod = client.V1Pod(
        metadata=client.V1ObjectMeta(generate_name="app-"),
        spec=client.V1PodSpec(containers=[client.V1Container(name="app", image="example/app:1")]),
    )

    def create() -> Any:
        try:
            return core.create_namespaced_pod(namespace, pod)
        except client.ApiException as error:
            if "no StiggEntitlements" in str(error.body):
                return None
            raise

    return waiting.wait_for(create, what="the webhook to know cluster-default")


def _opt_in(core: client.CoreV1Api, namespace: str) -> None:
    core.patch_namespace(namespace, {"metadata": {"labels": {keys.NAMESPACE_INJECTION_LABEL: "enabled"}}})


def test_a_configmap_in_the_way_of_the_defaults_copy_is_one_warning_event(
    api_client: client.ApiClient, namespace: str, cluster_default: str
) -> None:
    core = client.CoreV1Api(api_client)
    _opt_in(core, namespace)
    theirs = {"settings.json": '{"not": "defaults"}'}
    core.create_namespaced_config_map(
        namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name=COPY_NAME), data=theirs)
    )
    _served_pod(core, namespace)

    [event] = waiting.wait_for(
        lambda: _events(api_client, cluster_default, keys.COPY_CONFLICT_REASON, f"{namespace}/"),
        what="a DefaultsCopyConflict Event on cluster-default",
    )
    assert event.type == "Warning"
    assert event.message == (
        f"ConfigMap {namespace}/{COPY_NAME} exists and is not a copy of "
        f"{conftest.OPERATOR_NAMESPACE}/{COPY_NAME}: Pods of {namespace} get no defaults from it; "
        "remove or rename it"
    )
    time.sleep(ROUNDS)
    assert len(_events(api_client, cluster_default, keys.COPY_CONFLICT_REASON, f"{namespace}/")) == 1
    assert core.read_namespaced_config_map(COPY_NAME, namespace).data == theirs, "never taken over"
    assert namespace not in (_status(api_client).get("defaultsCopies") or [])


def test_a_configmap_quota_refusing_the_copy_is_one_reconcile_failed_event(
    api_client: client.ApiClient, namespace: str, cluster_default: str
) -> None:
    core = client.CoreV1Api(api_client)
    _opt_in(core, namespace)
    # The namespace's quota of ConfigMaps is used up (by kube-root-ca.crt), as the quota
    # controller, which the test cluster does not run, would report it.
    quota = client.V1ResourceQuota(
        metadata=client.V1ObjectMeta(name="configmaps"), spec=client.V1ResourceQuotaSpec(hard=QUOTA)
    )
    core.create_namespaced_resource_quota(namespace, quota)
    core.patch_namespaced_resource_quota_status(
        "configmaps", namespace, {"status": {"hard": QUOTA, "used": QUOTA}}
    )
    _served_pod(core, namespace)

    [event] = waiting.wait_for(
        lambda: _events(api_client, cluster_default, keys.RECONCILE_FAILED_REASON, "quota"),
        what="a ReconcileFailed Event on cluster-default",
    )
    assert event.type == "Warning"
    assert event.message == (
        f'reconcile failed: the apiserver said 403: configmaps "{COPY_NAME}" is forbidden: exceeded quota: '
        "configmaps, requested: count/configmaps=1, used: count/configmaps=1, limited: count/configmaps=1"
    )
    time.sleep(ROUNDS)
    assert len(_events(api_client, cluster_default, keys.RECONCILE_FAILED_REASON, "quota")) == 1
