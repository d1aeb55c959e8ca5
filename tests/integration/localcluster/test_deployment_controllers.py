"""A Deployment created through the real API becomes a ReplicaSet and Pods, made by the real
controller-manager (there is no kubelet, so the Pods stay Pending: they exist, unscheduled)."""

from __future__ import annotations

from kubernetes import client

from stigg_devkit import waiting


def _deployment(name: str, replicas: int) -> client.V1Deployment:
    labels = {"app": name}
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1DeploymentSpec(
            replicas=replicas,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(
                    containers=[client.V1Container(name="app", image="registry.k8s.io/pause:3.10")]
                ),
            ),
        ),
    )


def test_deployment_yields_replicaset_and_pods(api_client: client.ApiClient, namespace: str) -> None:
    apps = client.AppsV1Api(api_client)
    core = client.CoreV1Api(api_client)
    deployment = apps.create_namespaced_deployment(namespace, _deployment("web", replicas=3))

    replicaset = waiting.wait_for(
        lambda: next(iter(apps.list_namespaced_replica_set(namespace).items), None),
        what="the deployment controller to create a ReplicaSet",
    )
    (owner,) = replicaset.metadata.owner_references
    assert (owner.kind, owner.name, owner.uid) == ("Deployment", "web", deployment.metadata.uid)
    assert owner.controller is True

    pods = waiting.wait_for(
        lambda: (items := core.list_namespaced_pod(namespace).items) and len(items) == 3 and items,
        what="the replicaset controller to create 3 Pods",
    )
    for pod in pods:
        (pod_owner,) = pod.metadata.owner_references
        assert (pod_owner.kind, pod_owner.uid) == ("ReplicaSet", replicaset.metadata.uid)
        assert pod.metadata.generate_name == f"{replicaset.metadata.name}-"
        assert pod.status.phase == "Pending"
        # The ServiceAccount admission plugin and token controller did their part, as in a cluster.
        assert pod.spec.service_account_name == "default"
        assert any(volume.name.startswith("kube-api-access-") for volume in pod.spec.volumes)


def test_scaling_down_and_deleting_cascades(api_client: client.ApiClient, namespace: str) -> None:
    apps = client.AppsV1Api(api_client)
    core = client.CoreV1Api(api_client)
    apps.create_namespaced_deployment(namespace, _deployment("scaled", replicas=2))
    waiting.wait_for(lambda: len(core.list_namespaced_pod(namespace).items) == 2, what="2 Pods")

    apps.patch_namespaced_deployment_scale(namespace=namespace, name="scaled", body={"spec": {"replicas": 1}})
    waiting.wait_for(
        lambda: (
            len([p for p in core.list_namespaced_pod(namespace).items if not p.metadata.deletion_timestamp])
            == 1
        ),
        what="the replicaset controller to scale down to 1 Pod",
    )

    apps.delete_namespaced_deployment("scaled", namespace, propagation_policy="Foreground")
    waiting.wait_for(
        lambda: (
            not apps.list_namespaced_replica_set(namespace).items
            and not core.list_namespaced_pod(namespace).items
        ),
        what="the garbage collector to delete the ReplicaSet and its Pods",
    )
