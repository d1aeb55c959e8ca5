"""A replica that does not lead serves admissions from current indexes and writes nothing; when
the leader stops renewing the Lease, it takes over within the lease's duration and catches up
on what it did not write (a resource's ConfigMap and status, a workload's opt-in), on the real
apiserver. The leader here is the test itself, renewing the Lease as another replica would."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from kubernetes import client

from stigg_devkit import waiting
from stigg_localcluster import cluster
from stigg_operator import keys
from tests.integration.operator import conftest


@pytest.fixture
def follower(
    local_cluster: cluster.LocalCluster, api_client: client.ApiClient, crd: None, tmp_path: object
) -> Iterator[tuple[conftest.Operator, conftest.LeaseHolder]]:
    conftest.ensure_namespace(client.CoreV1Api(api_client), conftest.OPERATOR_NAMESPACE)
    with conftest.LeaseHolder(api_client) as holder:
        running = conftest.Operator(local_cluster, tmp_path / "operator.log", {})  # type: ignore[operator]
        running.start(api_client)
        try:
            yield running, holder
        finally:
            running.stop()
            running.remove_webhook(api_client)


def _deployment(name: str) -> dict[str, object]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "annotations": {keys.WORKLOAD_INJECT_ANNOTATION: "true"}},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": "example/app:1"}]},
            },
        },
    }


def test_a_follower_admits_writes_nothing_and_takes_over(
    api_client: client.ApiClient, namespace: str, follower: tuple[conftest.Operator, conftest.LeaseHolder]
) -> None:
    operator, holder = follower
    core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
    conftest.setup_namespace(api_client, namespace, wait=False)
    apps.create_namespaced_deployment(namespace, _deployment("web"))

    # Created after the follower started: its webhook injects from an index that saw it.
    pod = waiting.wait_for(
        lambda: _create_injected(core, namespace),
        what="the follower's webhook to inject with the new resource",
    )
    (sidecar,) = pod.spec.init_containers
    assert sidecar.name == keys.SIDECAR_CONTAINER
    assert any(v.config_map and v.config_map.name == keys.configmap_name("shop") for v in pod.spec.volumes)

    time.sleep(4)  # four status rounds of a leader (STIGG_OPERATOR_STATUS_INTERVAL_SECONDS=1)
    assert conftest.resource_status(api_client, namespace, "shop") == {}, "no status from a follower"
    with pytest.raises(client.ApiException) as missing:
        core.read_namespaced_config_map(keys.configmap_name("shop"), namespace)
    assert missing.value.status == 404, "no ConfigMap from a follower"
    template = apps.read_namespaced_deployment("web", namespace).spec.template.metadata
    assert keys.POD_INJECT_LABEL not in (template.labels or {}), "no opt-in carried by a follower"
    assert "leading now" not in operator.log()

    holder.stop()  # the leader is gone: its Lease expires in 3 s
    conftest.wait_ready(api_client, namespace, "shop", what="the new leader to reconcile what it saw")
    assert (conftest.lease_holder(api_client) or "").split("_")[0] != holder.identity.split("_")[0]
    assert "leading now" in operator.log()
    core.read_namespaced_config_map(keys.configmap_name("shop"), namespace)
    waiting.wait_for(
        lambda: (
            (apps.read_namespaced_deployment("web", namespace).spec.template.metadata.labels or {}).get(
                keys.POD_INJECT_LABEL
            )
            == "true"
        ),
        what="the opt-in seen while following carried by the new leader",
    )


def _create_injected(core: client.CoreV1Api, namespace: str) -> client.V1Pod | None:
    pod = client.V1Pod(
        metadata=client.V1ObjectMeta(generate_name="app-"),
        spec=client.V1PodSpec(containers=[client.V1Container(name="app", image="example/app:1")]),
    )
    try:
        created: client.V1Pod = core.create_namespaced_pod(namespace, pod)
    except client.ApiException as error:
        if error.status == 400 and "no StiggEntitlements" in (error.body or ""):
            return None  # the index not filled yet
        raise
    return created
