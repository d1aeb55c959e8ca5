"""The real apiserver's admission reviews, as the operator's ``/metrics`` counts them: an
injected Pod counts ``injected`` and is timed; a Pod its label opts in but its annotation opts
out is admitted unchanged, ``skipped``; an opted-in Pod with nothing to serve it is
``denied``; a Pod that is not opted in never reaches the webhook, so it is not counted at all."""

from __future__ import annotations

import pytest
from kubernetes import client

from stigg_operator import keys
from tests.integration.operator import conftest, scraping

ADMISSIONS = "stigg_operator_admissions_total"


def _pod(name: str, annotations: dict[str, str] | None = None) -> client.V1Pod:
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, annotations=annotations),
        spec=client.V1PodSpec(containers=[client.V1Container(name="app", image="example/app:1")]),
    )


def test_an_injected_pod_is_counted_and_timed(
    api_client: client.ApiClient, namespace: str, operator: conftest.Operator
) -> None:
    conftest.setup_namespace(api_client, namespace)
    before = scraping.scrape(operator)
    assert before.content_type.startswith("text/plain; version=0.0.4"), "Prometheus's text format"
    assert before.value(ADMISSIONS, namespace=namespace, result="injected") is None
    observed = before.value("stigg_operator_admission_duration_seconds_count", result="injected") or 0.0

    pod = client.CoreV1Api(api_client).create_namespaced_pod(namespace, _pod("counted"))
    assert [c.name for c in pod.spec.init_containers] == [keys.SIDECAR_CONTAINER]

    after = scraping.scrape(operator)
    assert after.value(ADMISSIONS, namespace=namespace, result="injected") == 1
    assert after.value("stigg_operator_admission_duration_seconds_count", result="injected") == observed + 1
    assert (after.value("stigg_operator_admission_duration_seconds_sum", result="injected") or 0) > (
        before.value("stigg_operator_admission_duration_seconds_sum", result="injected") or 0
    )
    assert (
        after.value("stigg_operator_admission_duration_seconds_bucket", result="injected", le="+Inf")
        == observed + 1
    )
    assert not after.series("stigg_operator_admissions_created"), "no _created series"


def test_an_opted_out_pod_is_skipped_and_one_not_opted_in_is_never_seen(
    api_client: client.ApiClient, namespace: str, operator: conftest.Operator
) -> None:
    conftest.setup_namespace(api_client, namespace, label=False)
    core = client.CoreV1Api(api_client)
    # Selected by its label (the namespace is not opted in), then left alone for its annotation.
    opted_out = _pod("opted-out", {keys.POD_INJECT_LABEL: "false"})
    opted_out.metadata.labels = {keys.POD_INJECT_LABEL: "true"}
    assert not core.create_namespaced_pod(namespace, opted_out).spec.init_containers
    assert scraping.scrape(operator).value(ADMISSIONS, namespace=namespace, result="skipped") == 1

    assert not core.create_namespaced_pod(namespace, _pod("not-opted-in")).spec.init_containers
    after = scraping.scrape(operator)
    assert after.value(ADMISSIONS, namespace=namespace, result="skipped") == 1, "never sent to the webhook"
    assert {s["result"] for s in after.series(ADMISSIONS) if s["namespace"] == namespace} == {"skipped"}


def test_a_denied_pod_is_counted_denied(
    api_client: client.ApiClient, namespace: str, operator: conftest.Operator
) -> None:
    lonely = _pod("lonely")
    lonely.metadata.labels = {keys.POD_INJECT_LABEL: "true"}  # opted in, and nothing serves it
    with pytest.raises(client.ApiException) as refused:
        client.CoreV1Api(api_client).create_namespaced_pod(namespace, lonely)
    assert f"no StiggEntitlements in namespace {namespace}" in (refused.value.body or "")
    after = scraping.scrape(operator)
    assert after.value(ADMISSIONS, namespace=namespace, result="denied") == 1
    assert after.value(ADMISSIONS, namespace=namespace, result="injected") is None
    assert (after.value("stigg_operator_admission_duration_seconds_count", result="denied") or 0) >= 1
