"""Every series the alerts and the dashboard read exists, with the labels they match on.

The sidecar's names come from its registry (``stigg_sidecar.metrics``); the operator's from
the contract in ``monitoring.OPERATOR_METRICS``, held equal to its registry's names here.
"""

from __future__ import annotations

import pytest

from stigg_devkit import monitoring

EXPRESSIONS = [(f"alert {r.alert} ({r.severity})", r.expr) for r in monitoring.alert_rules()] + [
    (where, monitoring.concrete(expr)) for where, expr in monitoring.dashboard_queries()
]


@pytest.mark.parametrize(("where", "expr"), EXPRESSIONS, ids=[where for where, _ in EXPRESSIONS])
def test_every_metric_exists(where: str, expr: str) -> None:
    names = monitoring.metric_names(expr)
    assert names, f"{where}: no metric found in {expr!r}"
    unknown = names - set(monitoring.KNOWN_METRICS)
    assert not unknown, f"{where}: unknown metrics {sorted(unknown)}"


@pytest.mark.parametrize(("where", "expr"), EXPRESSIONS, ids=[where for where, _ in EXPRESSIONS])
def test_every_matched_label_exists(where: str, expr: str) -> None:
    for name, label in monitoring.label_matchers(expr):
        if name not in monitoring.KNOWN_METRICS:
            continue  # test_every_metric_exists names it
        allowed = monitoring.KNOWN_METRICS[name] | monitoring.TARGET_LABELS
        assert label in allowed, f"{where}: {name} has no label {label!r} (it has {sorted(allowed)})"


def test_the_sidecar_registry_is_read() -> None:
    known = monitoring.KNOWN_METRICS
    assert known["sidecar_checks_total"] == {"method", "outcome"}
    assert "sidecar_upstream_request_duration_seconds_bucket" in known
    assert "le" in known["sidecar_upstream_request_duration_seconds_bucket"]
    assert "sidecar_outbox_depth" in known
    assert "sidecar_checks" not in known  # a counter is exposed as _total only


def test_the_extractors() -> None:
    expr = (
        'sum by (namespace, le) (rate(foo_total{outcome="a{b}", pod=~"$x"}[5m])) / on (pod) group_left ()'
        " bar and absent(baz) or histogram_quantile(0.99, qux_bucket) > 7 * 86400"
    )
    assert monitoring.metric_names(expr) == {"foo_total", "bar", "baz", "qux_bucket"}
    assert monitoring.label_matchers(expr) == {("foo_total", "outcome"), ("foo_total", "pod")}
    assert monitoring.metric_names("time() - min(x) < 1 offset 5m") == {"x"}


def test_the_operator_contract_is_its_registry() -> None:
    assert monitoring.operator_registry_names() == set(monitoring.OPERATOR_METRICS)
