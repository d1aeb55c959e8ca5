"""The leader's counts of the cluster's state on its ``/metrics``: StiggEntitlements by their
Ready condition as the operator wrote it (one made unready by a ConfigMap that is not the
operator's moves from True to False), and the opted-in Pods found without their sidecar (made
while the injector was unavailable) in their namespace, gone once they are."""

from __future__ import annotations

from typing import Any

from kubernetes import client

from stigg_devkit import waiting
from stigg_operator import keys
from tests.integration.operator import conftest, scraping

RESOURCES = "stigg_operator_resources"
MISSING = "stigg_operator_missing_sidecars"


def _ready_statuses(api: client.ApiClient) -> dict[str, int]:
    """What the cluster holds: every StiggEntitlements's Ready status, counted (Unknown if none)."""
    items = client.CustomObjectsApi(api).list_cluster_custom_object(keys.GROUP, keys.VERSION, keys.PLURAL)
    counts = {"True": 0, "False": 0, "Unknown": 0}
    for item in items["items"]:
        ready = conftest.condition(item.get("status") or {}, "Ready")
        counts[ready["status"] if ready else "Unknown"] += 1
    return counts


def _gauge_matches_the_cluster(
    api: client.ApiClient, running: conftest.Operator, *, unready: int = 0
) -> dict[str, int] | None:
    """The cluster's Ready counts once the gauge says the same (and counts ``unready`` or more
    Ready=False), else None."""
    truth = _ready_statuses(api)
    scraped = scraping.scrape(running)
    gauge = {status: scraped.value(RESOURCES, condition="Ready", status=status) for status in truth}
    same = gauge == {status: float(n) for status, n in truth.items()}
    return truth if same and truth["False"] >= unready else None


def test_the_resources_gauge_counts_ready_as_written(
    api_client: client.ApiClient, namespace: str, operator: conftest.Operator
) -> None:
    conftest.setup_namespace(api_client, namespace)
    conftest.wait_ready(api_client, namespace, "shop")
    ready = waiting.wait_for(
        lambda: _gauge_matches_the_cluster(api_client, operator), what="the gauge to count Ready=True"
    )
    assert ready["True"] >= 1

    # Someone else's ConfigMap where the resource's defaults go: Ready=False (ConfigMapConflict).
    core, custom = client.CoreV1Api(api_client), client.CustomObjectsApi(api_client)
    spec: dict[str, Any] = {"apiKeySecretRef": {"name": "stigg-api-key"}}
    core.create_namespaced_config_map(
        namespace,
        client.V1ConfigMap(metadata=client.V1ObjectMeta(name=keys.configmap_name("taken")), data={"a": "b"}),
    )
    custom.create_namespaced_custom_object(
        keys.GROUP, keys.VERSION, namespace, keys.PLURAL, conftest.make_resource("taken", spec)
    )
    waiting.wait_for(
        lambda: (
            (c := conftest.condition(conftest.resource_status(api_client, namespace, "taken"), "Ready"))
            and c["status"] == "False"
            and c["reason"] == "ConfigMapConflict"
        ),
        what="the resource to be Ready=False",
    )
    unready = waiting.wait_for(
        lambda: _gauge_matches_the_cluster(api_client, operator, unready=1),
        what="the gauge to count Ready=False",
    )
    assert unready["True"] == ready["True"], "the first resource still counted ready"
    scraped = scraping.scrape(operator)
    for condition in ("Ready", "Degraded", "DefaultsInEnv", "SecretsVerified"):
        total = sum(
            scraped.value(RESOURCES, condition=condition, status=s) or 0 for s in ("True", "False", "Unknown")
        )
        assert total == sum(unready.values()), f"{condition}: each resource once"


def test_pods_without_their_sidecar_are_counted_in_their_namespace(
    api_client: client.ApiClient, namespace: str, operator: conftest.Operator
) -> None:
    core = client.CoreV1Api(api_client)
    operator.stop()
    conftest.remove_webhook(api_client)  # the injector is unavailable: Pods are created as they are
    try:
        conftest.setup_namespace(api_client, namespace, wait=False)
        for name in ("a", "b"):
            core.create_namespaced_pod(
                namespace,
                client.V1Pod(
                    metadata=client.V1ObjectMeta(name=name),
                    spec=client.V1PodSpec(containers=[client.V1Container(name="app", image="example/app:1")]),
                ),
            )
    finally:
        operator.start(api_client)
    waiting.wait_for(
        lambda: scraping.scrape(operator).value(MISSING, namespace=namespace) == 2,
        what="both Pods counted missing their sidecar",
    )
    waiting.wait_for(
        lambda: conftest.resource_status(api_client, namespace, "shop").get("missingSidecars") == 2,
        what="the same count in the resource's status",
    )

    core.delete_namespaced_pod("a", namespace, grace_period_seconds=0)
    waiting.wait_for(
        lambda: scraping.scrape(operator).value(MISSING, namespace=namespace) == 1, what="one left to count"
    )
    core.delete_namespaced_pod("b", namespace, grace_period_seconds=0)
    waiting.wait_for(
        lambda: scraping.scrape(operator).value(MISSING, namespace=namespace) is None,
        what="the namespace's series gone with its last such Pod",
    )
