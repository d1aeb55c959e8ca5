"""Pods created while the injector was unavailable (here: before the operator registered its
webhook) are found, reported as an Event on each Pod and a count on the resource; with
repairMissingSidecars the operator deletes them, one per workload at a time, and their
controller recreates them with the sidecar."""

from __future__ import annotations

import time
from typing import Any

from kubernetes import client

from stigg_devkit import waiting
from stigg_localcluster import cluster
from stigg_operator import keys
from tests.integration.operator import conftest
from tests.integration.operator import workload_manifests as manifests


def _events(core: client.CoreV1Api, namespace: str, reason: str) -> list[Any]:
    return [e for e in core.list_namespaced_event(namespace).items if e.reason == reason]


def test_pods_created_without_the_webhook_are_reported_then_repaired(
    api_client: client.ApiClient,
    local_cluster: cluster.LocalCluster,
    namespace: str,
    operator: conftest.Operator,
) -> None:
    core = client.CoreV1Api(api_client)
    custom = client.CustomObjectsApi(api_client)
    operator.stop()
    conftest.remove_webhook(api_client)  # the injector is unavailable: Pods are created as they are
    try:
        core.patch_namespace(namespace, {"metadata": {"labels": {keys.NAMESPACE_INJECTION_LABEL: "enabled"}}})
        conftest.make_secret(api_client, namespace)
        spec = {"apiKeySecretRef": {"name": "stigg-api-key"}}
        custom.create_namespaced_custom_object(
            keys.GROUP, keys.VERSION, namespace, keys.PLURAL, conftest.make_resource("shop", spec)
        )
        manifests.apply(local_cluster, namespace, manifests.deployment("web", replicas=2))
        originals = {
            pod.metadata.name for pod in manifests.wait_pods(core, namespace, "web", 2, injected=False)
        }
    finally:
        operator.start(api_client)

    status = waiting.wait_for(
        lambda: (
            (s := conftest.resource_status(api_client, namespace, "shop")).get("missingSidecars") == 2 and s
        ),
        what="both Pods reported missing their sidecar",
    )
    assert status["repairedPods"] == 0
    reported = waiting.wait_for(
        lambda: len(found := _events(core, namespace, keys.MISSING_SIDECAR_REASON)) == 2 and found,
        what="an Event on each Pod",
    )
    assert {e.involved_object.name for e in reported} == originals
    assert all(e.type == "Warning" and "repairMissingSidecars" in e.message for e in reported)
    time.sleep(2)  # two more status intervals: each Pod is reported once
    assert len(_events(core, namespace, keys.MISSING_SIDECAR_REASON)) == 2
    assert {p.metadata.name for p in manifests.live_pods(core, namespace, "web")} == originals, (
        "no repair asked"
    )

    custom.patch_namespaced_custom_object(
        keys.GROUP, keys.VERSION, namespace, keys.PLURAL, "shop", {"spec": {"repairMissingSidecars": True}}
    )

    def one_repaired() -> list[Any] | None:
        pods = manifests.live_pods(core, namespace, "web")
        injected = [pod for pod in pods if manifests.has_sidecar(pod)]
        return pods if len(pods) == 2 and len(injected) == 1 else None

    pods = waiting.wait_for(one_repaired, what="one Pod recreated with the sidecar")
    replacement = next(pod for pod in pods if manifests.has_sidecar(pod))
    remaining = next(pod for pod in pods if not manifests.has_sidecar(pod))
    assert remaining.metadata.name in originals
    time.sleep(2)  # the replacement is not ready (no kubelet): the other Pod must wait for it
    assert {p.metadata.name for p in manifests.live_pods(core, namespace, "web")} == {
        replacement.metadata.name,
        remaining.metadata.name,
    }, "one Pod per workload at a time"
    status = conftest.resource_status(api_client, namespace, "shop")
    assert (status["missingSidecars"], status["repairedPods"]) == (1, 1)

    for pod in (replacement, remaining):  # as the kubelet would once both run
        conftest.mark_ready(core, namespace, pod.metadata.name)
    manifests.wait_pods(core, namespace, "web", 2, injected=True)
    status = waiting.wait_for(
        lambda: (
            (s := conftest.resource_status(api_client, namespace, "shop")).get("missingSidecars") == 0 and s
        ),
        what="no Pod missing its sidecar",
    )
    assert status["repairedPods"] == 2
    assert len(_events(core, namespace, keys.REPAIR_REASON)) == 2
