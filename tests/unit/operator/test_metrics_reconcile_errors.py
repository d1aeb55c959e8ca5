"""``stigg_operator_reconcile_errors_total{reason}``: a reconcile that raised is counted by its
exception's class (``metrics.failure_reason``), never by its message (which names objects),
and every occurrence counts. Pure."""

from __future__ import annotations

from kubernetes import client

from stigg_operator import keys, metrics


def test_the_reason_is_the_class_not_the_message() -> None:
    assert metrics.failure_reason(client.ApiException(status=500, reason="shop/web exploded")) == (
        "ApiException"
    )
    assert metrics.failure_reason(TimeoutError("reading shop/entitlements")) == "TimeoutError"
    assert metrics.failure_reason(RuntimeError("Secret a/b kept changing")) == metrics.failure_reason(
        RuntimeError("Secret c/d kept changing")
    ), "one series, whatever the objects named"


def test_every_failure_counts_under_its_reason() -> None:
    instruments = metrics.Metrics()
    for error in (TimeoutError("a"), TimeoutError("b")):
        instruments.reconcile_failed(metrics.failure_reason(error))
    instruments.reconcile_failed(keys.COPY_CONFLICT_REASON)
    value = instruments.registry.get_sample_value
    assert value("stigg_operator_reconcile_errors_total", {"reason": "TimeoutError"}) == 2
    assert value("stigg_operator_reconcile_errors_total", {"reason": "DefaultsCopyConflict"}) == 1
