"""Annotating a Deployment or a StatefulSet opts its Pods in: the operator carries the opt-in
into the Pod template (server-side apply, its own field manager), the real controller-manager
rolls the Pods and the webhook injects them; removing the annotation takes it out again, and
re-applying the user's manifest neither removes the opt-in nor causes another rollout."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client

from stigg_devkit import waiting
from stigg_localcluster import cluster
from stigg_operator import keys
from tests.integration.operator import conftest
from tests.integration.operator import workload_manifests as manifests

SPEC = {"apiKeySecretRef": {"name": "stigg-api-key"}}
OPT_IN = {keys.WORKLOAD_INJECT_ANNOTATION: "true"}


def _setup(api: client.ApiClient, namespace: str) -> None:
    """A resource in a namespace that is *not* labelled for injection."""
    conftest.make_secret(api, namespace)
    client.CustomObjectsApi(api).create_namespaced_custom_object(
        keys.GROUP, keys.VERSION, namespace, keys.PLURAL, conftest.make_resource("shop", SPEC)
    )
    conftest.wait_ready(api, namespace, "shop")


def _template(apps: client.AppsV1Api, namespace: str, name: str) -> Any:
    return apps.read_namespaced_deployment(name, namespace).spec.template.metadata


def _managers(workload: Any) -> set[str]:
    return {entry.manager for entry in workload.metadata.managed_fields or []}


@pytest.mark.usefixtures("operator")
def test_annotating_a_deployment_injects_its_pods_and_removing_it_takes_them_out(
    api_client: client.ApiClient, local_cluster: cluster.LocalCluster, namespace: str
) -> None:
    _setup(api_client, namespace)
    apps, core = client.AppsV1Api(api_client), client.CoreV1Api(api_client)
    manifests.apply(local_cluster, namespace, manifests.deployment("web"))
    manifests.wait_pods(core, namespace, "web", 2, injected=False)

    local_cluster.kubectl(
        "annotate", "deployment", "web", "-n", namespace, f"{keys.WORKLOAD_INJECT_ANNOTATION}=true"
    )
    pods = manifests.wait_pods(core, namespace, "web", 2, injected=True)
    template = _template(apps, namespace, "web")
    assert template.labels == {"app": "web", keys.POD_INJECT_LABEL: "true"}, "only the opt-in label is added"
    assert keys.FIELD_MANAGER in _managers(apps.read_namespaced_deployment("web", namespace))
    assert all(
        pod.metadata.annotations[keys.INJECTED_ANNOTATION].startswith(f"{namespace}/shop@") for pod in pods
    )

    local_cluster.kubectl(
        "annotate", "deployment", "web", "-n", namespace, f"{keys.WORKLOAD_INJECT_ANNOTATION}-"
    )
    manifests.wait_pods(core, namespace, "web", 2, injected=False)
    assert _template(apps, namespace, "web").labels == {"app": "web"}, "the opt-in label is removed"


@pytest.mark.usefixtures("operator")
@pytest.mark.parametrize("server_side", [False, True], ids=["kubectl-apply", "kubectl-apply-server-side"])
def test_reapplying_the_users_manifest_keeps_the_opt_in_without_a_rollout(
    api_client: client.ApiClient, local_cluster: cluster.LocalCluster, namespace: str, server_side: bool
) -> None:
    _setup(api_client, namespace)
    apps, core = client.AppsV1Api(api_client), client.CoreV1Api(api_client)
    manifest = manifests.deployment("web", annotations=OPT_IN)
    extra = ("--server-side",) if server_side else ()
    manifests.apply(local_cluster, namespace, manifest, *extra)
    manifests.wait_pods(core, namespace, "web", 2, injected=True)
    generation = apps.read_namespaced_deployment("web", namespace).metadata.generation
    pod_names = {pod.metadata.name for pod in manifests.live_pods(core, namespace, "web")}

    for _ in range(3):  # as a GitOps tool re-applies the same manifest, again and again
        manifests.apply(local_cluster, namespace, manifest, *extra)

    def nothing_moves() -> None:
        deployment = apps.read_namespaced_deployment("web", namespace)
        assert deployment.spec.template.metadata.labels[keys.POD_INJECT_LABEL] == "true"
        assert deployment.metadata.generation == generation, "no rollout"
        assert {pod.metadata.name for pod in manifests.live_pods(core, namespace, "web")} == pod_names

    waiting.steadily(nothing_moves, seconds=4)  # a few of the operator's 1 s status intervals


@pytest.mark.usefixtures("operator")
def test_annotating_a_statefulset_injects_its_pods(
    api_client: client.ApiClient, local_cluster: cluster.LocalCluster, namespace: str
) -> None:
    _setup(api_client, namespace)
    core = client.CoreV1Api(api_client)
    manifests.apply(local_cluster, namespace, manifests.statefulset("db", annotations=OPT_IN))
    (pod,) = manifests.wait_pods(core, namespace, "db", 1, injected=True)
    assert pod.metadata.owner_references[0].kind == "StatefulSet"
    assert pod.metadata.labels[keys.POD_INJECT_LABEL] == "true"


@pytest.mark.usefixtures("operator")
def test_annotating_a_daemonset_carries_the_opt_in_into_its_template(
    api_client: client.ApiClient, local_cluster: cluster.LocalCluster, namespace: str
) -> None:
    """(No node here, so a DaemonSet makes no Pods: its template is what there is to see.)"""
    _setup(api_client, namespace)
    manifests.apply(local_cluster, namespace, manifests.daemonset("agent", annotations=OPT_IN))
    apps = client.AppsV1Api(api_client)
    waiting.wait_for(
        lambda: apps.read_namespaced_daemon_set("agent", namespace).spec.template.metadata.labels.get(
            keys.POD_INJECT_LABEL) == "true",
        what="the opt-in label on the DaemonSet's template",
    )  # fmt: skip


@pytest.mark.usefixtures("operator")
def test_opting_out_in_a_labelled_namespace_and_a_named_config(
    api_client: client.ApiClient, local_cluster: cluster.LocalCluster, namespace: str
) -> None:
    _setup(api_client, namespace)
    client.CustomObjectsApi(api_client).create_namespaced_custom_object(
        keys.GROUP, keys.VERSION, namespace, keys.PLURAL, conftest.make_resource("other", SPEC)
    )
    conftest.wait_ready(api_client, namespace, "other")
    client.CoreV1Api(api_client).patch_namespace(
        namespace, {"metadata": {"labels": {keys.NAMESPACE_INJECTION_LABEL: "enabled"}}}
    )
    core = client.CoreV1Api(api_client)
    manifests.apply(
        local_cluster,
        namespace,
        manifests.deployment("batch", annotations={keys.WORKLOAD_INJECT_ANNOTATION: "false"}),
    )
    manifests.apply(
        local_cluster,
        namespace,
        manifests.deployment("api", annotations={**OPT_IN, keys.CONFIG_ANNOTATION: "other"}),
    )
    api_pods = manifests.wait_pods(core, namespace, "api", 2, injected=True)
    assert {pod.metadata.annotations[keys.INJECTED_ANNOTATION].split("@")[0] for pod in api_pods} == {
        f"{namespace}/other"
    }
    batch = waiting.wait_for(
        lambda: (
            (t := _template(client.AppsV1Api(api_client), namespace, "batch")).labels.get(
                keys.POD_INJECT_LABEL
            )
            == "false"
            and t
        ),
        what="the opt-out label on the template",
    )
    assert batch.labels[keys.POD_INJECT_LABEL] == "false"
    manifests.wait_pods(core, namespace, "batch", 2, injected=False)


@pytest.mark.usefixtures("operator")
def test_a_bad_annotation_and_a_template_label_owned_by_the_user_are_reported(
    api_client: client.ApiClient, local_cluster: cluster.LocalCluster, namespace: str
) -> None:
    _setup(api_client, namespace)
    manifests.apply(
        local_cluster,
        namespace,
        manifests.deployment("odd", annotations={keys.WORKLOAD_INJECT_ANNOTATION: "yes"}),
    )
    owned = manifests.deployment("mine", annotations=OPT_IN).replace(
        "labels:\n        app: mine\n",
        f"labels:\n        app: mine\n        {keys.POD_INJECT_LABEL}: 'false'\n",
    )
    assert f"{keys.POD_INJECT_LABEL}: 'false'" in owned
    manifests.apply(local_cluster, namespace, owned)

    def reasons() -> set[tuple[str, str]] | None:
        events = client.CoreV1Api(api_client).list_namespaced_event(namespace).items
        found = {(e.involved_object.name, e.reason) for e in events if e.source.component == "stigg-operator"}
        return found if {("odd", "InvalidOptIn"), ("mine", "OptInConflict")} <= found else None

    waiting.wait_for(reasons, what="Warning Events on both Deployments")
    mine = client.AppsV1Api(api_client).read_namespaced_deployment("mine", namespace)
    assert mine.spec.template.metadata.labels[keys.POD_INJECT_LABEL] == "false", "the user's own value stands"
