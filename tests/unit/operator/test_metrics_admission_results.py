"""The admission handler (``webhook.admit``: the real ``inject``, timed and counted) records each
review by the Pod's namespace and what came of it: ``injected``, ``skipped`` (admitted unchanged
on purpose), ``denied`` (refused with a reason) or ``error`` (anything else it raised, which
kopf answers with a 500). Pure: the index is a dict, the API lister a function."""

from __future__ import annotations

from typing import Any

import kopf
import pytest

from stigg_operator import keys, metrics, model, settings
from stigg_operator.adapters import webhook
from tests.unit.operator.injection import pods

CONFIG = settings.Settings(namespace="stigg-system")
INDEX = {("shop", "entitlements"): [{"spec": {"apiKeySecretRef": {"name": "stigg-api-key"}}, "uid": "u"}]}


def _admit(
    instruments: metrics.Metrics, pod: dict[str, Any], lister: webhook.Lister | None = None
) -> kopf.Patch:
    patch = kopf.Patch()

    def in_api(_: str) -> model.Resources:
        return {}

    webhook.admit(
        body=kopf.Body(pod),
        namespace=pod["metadata"].get("namespace"),
        patch=patch,
        warnings=[],
        config=CONFIG,
        list_serving=lister or in_api,
        entitlements=INDEX if lister is None else {},
        instruments=instruments,
    )
    return patch


def _count(instruments: metrics.Metrics, namespace: str, result: str) -> float | None:
    return instruments.registry.get_sample_value(
        "stigg_operator_admissions_total", {"namespace": namespace, "result": result}
    )


def _pod(namespace: str = "shop", annotations: dict[str, str] | None = None) -> dict[str, Any]:
    pod = pods.bare_pod()
    pod["metadata"]["namespace"] = namespace
    if annotations:
        pod["metadata"]["annotations"] = annotations
    return pod


def test_an_injected_pod() -> None:
    instruments = metrics.Metrics()
    patch = _admit(instruments, _pod())
    assert patch.fns, "the sidecar's patch was sent back"
    assert _count(instruments, "shop", "injected") == 1
    assert _count(instruments, "shop", "skipped") is None
    assert (
        instruments.registry.get_sample_value(
            "stigg_operator_admission_duration_seconds_count", {"result": "injected"}
        )
        == 1
    )


def test_a_pod_left_alone_on_purpose_is_skipped() -> None:
    instruments = metrics.Metrics()
    patch = _admit(instruments, _pod(annotations={keys.POD_INJECT_LABEL: "false"}))
    assert not patch.fns
    assert _count(instruments, "shop", "skipped") == 1
    assert _count(instruments, "shop", "injected") is None


@pytest.mark.parametrize(
    "pod",
    [
        _pod(annotations={keys.LOG_LEVEL_ANNOTATION: "loud"}),  # a bad annotation
        _pod(annotations={keys.CONFIG_ANNOTATION: "nothing-by-that-name"}),  # no serving resource
        {"metadata": {"namespace": "shop"}, "spec": {"containers": "app"}},  # malformed
    ],
)
def test_a_refused_pod_is_denied(pod: dict[str, Any]) -> None:
    instruments = metrics.Metrics()
    with pytest.raises(kopf.AdmissionError):
        _admit(instruments, pod)
    assert _count(instruments, "shop", "denied") == 1
    assert (
        instruments.registry.get_sample_value(
            "stigg_operator_admission_duration_seconds_count", {"result": "denied"}
        )
        == 1
    )


def test_an_unexpected_failure_is_an_error() -> None:
    def unreachable(_: str) -> model.Resources:  # the index missed: the API is asked, and fails
        raise ConnectionError("the apiserver is unreachable")

    instruments = metrics.Metrics()
    with pytest.raises(ConnectionError):
        _admit(instruments, _pod(), unreachable)
    assert _count(instruments, "shop", "error") == 1
    assert _count(instruments, "shop", "denied") is None
