"""The metric contract as Prometheus reads it: every name, type and label set of the
exposition (alerts, the dashboard and the chart are written against them), the admission
histogram's buckets, the content types offered, and registries independent of each other and
of prometheus_client's global one. Pure: ``Metrics.exposition``, parsed by prometheus_client."""

from __future__ import annotations

import datetime

import prometheus_client
from prometheus_client import parser

from stigg_operator import metrics

NOT_AFTER = datetime.datetime(2027, 3, 4, 5, 6, 7, tzinfo=datetime.UTC)


def _recorded() -> metrics.Metrics:
    instruments = metrics.Metrics()
    instruments.admitted("shop", metrics.INJECTED, 0.004)
    instruments.reconcile_failed("ApiException")
    instruments.rollout_started("shop")
    instruments.leadership_changed(True)
    instruments.count_resources({})
    instruments.count_missing({("shop", "entitlements"): [{"metadata": {"namespace": "shop"}}]})
    instruments.serve_certificate(lambda: NOT_AFTER)
    return instruments


def test_the_names_types_and_labels_of_the_contract() -> None:
    body, content_type = _recorded().exposition()
    assert content_type.startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in parser.text_string_to_metric_families(body.decode())}
    ours = {
        name: family
        for name, family in families.items()
        # (``main`` turns the ``_created`` series off for the whole process; this test's are on.)
        if name.startswith("stigg_operator_") and not name.endswith("_created")
    }
    assert {name: family.type for name, family in ours.items()} == {
        "stigg_operator_admissions": "counter",
        "stigg_operator_admission_duration_seconds": "histogram",
        "stigg_operator_reconcile_errors": "counter",
        "stigg_operator_rollouts": "counter",
        "stigg_operator_resources": "gauge",
        "stigg_operator_missing_sidecars": "gauge",
        "stigg_operator_certificate_expiry_timestamp_seconds": "gauge",
        "stigg_operator_leader": "gauge",
    }
    samples = {s.name: set(s.labels) for family in ours.values() for s in family.samples}
    assert samples["stigg_operator_admissions_total"] == {"namespace", "result"}
    assert samples["stigg_operator_admission_duration_seconds_bucket"] == {"result", "le"}
    assert samples["stigg_operator_admission_duration_seconds_count"] == {"result"}
    assert samples["stigg_operator_reconcile_errors_total"] == {"reason"}
    assert samples["stigg_operator_rollouts_total"] == {"namespace"}
    assert samples["stigg_operator_resources"] == {"condition", "status"}
    assert samples["stigg_operator_missing_sidecars"] == {"namespace"}
    assert samples["stigg_operator_certificate_expiry_timestamp_seconds"] == set()
    assert samples["stigg_operator_leader"] == set()
    assert {"process_resident_memory_bytes", "python_gc_objects_collected", "python_info"} <= set(families), (
        "the process's own collectors beside ours"
    )


def test_the_values_as_scraped() -> None:
    value = _recorded().registry.get_sample_value
    assert value("stigg_operator_admissions_total", {"namespace": "shop", "result": "injected"}) == 1
    assert (
        value("stigg_operator_admission_duration_seconds_bucket", {"result": "injected", "le": "0.005"}) == 1
    )
    assert (
        value("stigg_operator_admission_duration_seconds_bucket", {"result": "injected", "le": "0.0025"}) == 0
    )
    assert value("stigg_operator_admission_duration_seconds_count", {"result": "denied"}) == 0, (
        "every result's series exists before its first admission"
    )
    assert value("stigg_operator_certificate_expiry_timestamp_seconds") == NOT_AFTER.timestamp()
    assert value("stigg_operator_leader") == 1


def test_the_admission_buckets_span_a_millisecond_to_the_webhook_ceiling() -> None:
    body, _ = _recorded().exposition()
    bounds = [
        sample.labels["le"]
        for family in parser.text_string_to_metric_families(body.decode())
        if family.name == "stigg_operator_admission_duration_seconds"
        for sample in family.samples
        if sample.name.endswith("_bucket") and sample.labels["result"] == "injected"
    ]
    assert bounds[0] == "0.001"
    assert bounds[-2:] == ["10.0", "+Inf"], "10 s: the longest timeoutSeconds the apiserver allows"


def test_openmetrics_when_the_scraper_asks_for_it() -> None:
    body, content_type = _recorded().exposition("application/openmetrics-text; version=1.0.0")
    assert content_type.startswith("application/openmetrics-text")
    assert body.rstrip().endswith(b"# EOF")
    assert b"stigg_operator_admissions_total{" in body


def test_registries_are_independent_of_each_other_and_of_the_global_one() -> None:
    first, second = metrics.Metrics(), metrics.Metrics()
    first.admitted("shop", metrics.DENIED, 0.01)
    labels = {"namespace": "shop", "result": "denied"}
    assert first.registry.get_sample_value("stigg_operator_admissions_total", labels) == 1
    assert second.registry.get_sample_value("stigg_operator_admissions_total", labels) is None
    assert prometheus_client.REGISTRY.get_sample_value("stigg_operator_admissions_total", labels) is None
