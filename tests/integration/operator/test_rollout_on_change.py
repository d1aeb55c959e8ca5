"""With rolloutOnChange, a change to what is injected (here, the sidecar image) rolls each
affected workload exactly once; a change to default values alone rolls nothing; without
rolloutOnChange nothing rolls, and the status says which workloads are behind. The operator's
``stigg_operator_rollouts_total`` counts the rollouts it started, by namespace."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client

from stigg_devkit import waiting
from stigg_localcluster import cluster
from stigg_operator import keys
from tests.integration.operator import conftest, scraping
from tests.integration.operator import workload_manifests as manifests

OPT_IN = {keys.WORKLOAD_INJECT_ANNOTATION: "true"}
NEW_IMAGE = "registry.example/stigg/sidecar:v2"


def _setup(api: client.ApiClient, local: cluster.LocalCluster, namespace: str, rollout: bool) -> None:
    conftest.make_secret(api, namespace)
    spec = {
        "apiKeySecretRef": {"name": "stigg-api-key"},
        "rolloutOnChange": rollout,
        "defaults": {"feature-sso": {"hasAccess": False}},
    }
    client.CustomObjectsApi(api).create_namespaced_custom_object(
        keys.GROUP, keys.VERSION, namespace, keys.PLURAL, conftest.make_resource("shop", spec)
    )
    conftest.wait_ready(api, namespace, "shop")
    core = client.CoreV1Api(api)
    for app in ("web", "worker"):
        manifests.apply(local, namespace, manifests.deployment(app, replicas=1, annotations=OPT_IN))
    for app in ("web", "worker"):
        manifests.wait_pods(core, namespace, app, 1, injected=True)
    waiting.wait_for(
        lambda: conftest.resource_status(api, namespace, "shop").get("workloads", {}).get("summary") == "2/2",
        what="both workloads up to date",
    )


def _patch(api: client.ApiClient, namespace: str, spec: dict[str, Any]) -> None:
    client.CustomObjectsApi(api).patch_namespaced_custom_object(
        keys.GROUP, keys.VERSION, namespace, keys.PLURAL, "shop", {"spec": spec}
    )


def _generations(apps: client.AppsV1Api, namespace: str) -> dict[str, int]:
    return {
        app: apps.read_namespaced_deployment(app, namespace).metadata.generation for app in ("web", "worker")
    }


def _images(core: client.CoreV1Api, namespace: str, app: str) -> set[str]:
    return {pod.spec.init_containers[0].image for pod in manifests.live_pods(core, namespace, app)}


def test_an_image_change_rolls_each_workload_once_and_a_defaults_change_none(
    api_client: client.ApiClient,
    local_cluster: cluster.LocalCluster,
    namespace: str,
    operator: conftest.Operator,
) -> None:
    _setup(api_client, local_cluster, namespace, rollout=True)
    apps, core = client.AppsV1Api(api_client), client.CoreV1Api(api_client)
    before = _generations(apps, namespace)
    pods_before = {
        pod.metadata.name for app in ("web", "worker") for pod in manifests.live_pods(core, namespace, app)
    }

    _patch(api_client, namespace, {"defaults": {"feature-sso": {"hasAccess": True}}})
    waiting.wait_for(
        lambda: "true" in client.CoreV1Api(api_client).read_namespaced_config_map(
            keys.configmap_name("shop"), namespace).data[keys.DEFAULTS_FILE],
        what="the new defaults in the ConfigMap",
    )  # fmt: skip

    def nothing_rolled() -> None:
        assert _generations(apps, namespace) == before
        now = {
            pod.metadata.name
            for app in ("web", "worker")
            for pod in manifests.live_pods(core, namespace, app)
        }
        assert now == pods_before

    waiting.steadily(nothing_rolled, seconds=4)

    _patch(api_client, namespace, {"sidecar": {"image": NEW_IMAGE}})
    for app in ("web", "worker"):
        waiting.wait_for(lambda app=app: _images(core, namespace, app) == {NEW_IMAGE}, what=f"{app} rolled")
    after = _generations(apps, namespace)
    assert after == {app: generation + 1 for app, generation in before.items()}, "one rollout each"
    wiring = {
        apps.read_namespaced_deployment(app, namespace).spec.template.metadata.annotations[
            keys.ROLLOUT_ANNOTATION
        ]
        for app in ("web", "worker")
    }
    pod_wiring = {
        pod.metadata.annotations[keys.INJECTED_ANNOTATION].split("@")[1]
        for app in ("web", "worker")
        for pod in manifests.live_pods(core, namespace, app)
    }
    assert wiring == pod_wiring, "the stamp is the wiring the new Pods were injected with"
    waiting.steadily(lambda: _generations(apps, namespace) == after or pytest.fail("rolled again"), seconds=4)
    status = conftest.resource_status(api_client, namespace, "shop")
    assert status["workloads"]["summary"] == "2/2"
    assert scraping.scrape(operator).value("stigg_operator_rollouts_total", namespace=namespace) == 2


def test_without_rollout_on_change_nothing_rolls_and_the_status_shows_it(
    api_client: client.ApiClient,
    local_cluster: cluster.LocalCluster,
    namespace: str,
    operator: conftest.Operator,
) -> None:
    _setup(api_client, local_cluster, namespace, rollout=False)
    apps = client.AppsV1Api(api_client)
    before = _generations(apps, namespace)
    _patch(api_client, namespace, {"sidecar": {"image": NEW_IMAGE}})
    workloads = waiting.wait_for(
        lambda: (
            (w := conftest.resource_status(api_client, namespace, "shop").get("workloads", {}))
            and w.get("summary") == "0/2"
            and w
        ),
        what="the status to show both workloads behind",
    )
    assert workloads["rolled"] == 0
    waiting.steadily(
        lambda: _generations(apps, namespace) == before or pytest.fail("rolled without rolloutOnChange"),
        seconds=4,
    )
    assert scraping.scrape(operator).value("stigg_operator_rollouts_total", namespace=namespace) is None
