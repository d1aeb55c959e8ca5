"""The opt-in annotation of a workload → the Pod template fields the operator applies (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from stigg_operator import keys, workloads


def _workload(
    annotations: dict[str, str] | None = None,
    template_labels: dict[str, str] | None = None,
    owned_labels: tuple[str, ...] = (),
    manager: str = keys.FIELD_MANAGER,
) -> dict[str, Any]:
    managed = []
    if owned_labels:
        fields = {
            "f:spec": {"f:template": {"f:metadata": {"f:labels": {f"f:{k}": {} for k in owned_labels}}}}
        }
        managed.append({"manager": manager, "operation": "Apply", "fieldsV1": fields})
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "shop",
            "annotations": annotations or {},
            "managedFields": managed,
        },
        "spec": {"template": {"metadata": {"labels": {"app": "web", **(template_labels or {})}}}},
    }


def test_the_annotation_asks_for_the_label_and_the_named_config() -> None:
    body = workloads.opt_in_apply(
        _workload({keys.WORKLOAD_INJECT_ANNOTATION: "true", keys.CONFIG_ANNOTATION: "gold"})
    )
    assert body == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {
            "template": {
                "metadata": {
                    "labels": {keys.POD_INJECT_LABEL: "true"},
                    "annotations": {keys.CONFIG_ANNOTATION: "gold"},
                }
            }
        },
    }


def test_a_template_already_as_asked_needs_nothing() -> None:
    workload = _workload(
        {keys.WORKLOAD_INJECT_ANNOTATION: "True"},
        template_labels={keys.POD_INJECT_LABEL: "true"},
        owned_labels=(keys.POD_INJECT_LABEL,),
    )
    assert workloads.opt_in_apply(workload) is None


def test_removing_the_annotation_releases_the_operators_fields() -> None:
    workload = _workload(
        template_labels={keys.POD_INJECT_LABEL: "true"}, owned_labels=(keys.POD_INJECT_LABEL,)
    )
    body = workloads.opt_in_apply(workload)
    assert body == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
    }


def test_a_label_the_user_set_without_the_annotation_is_not_the_operators_business() -> None:
    workload = _workload(
        template_labels={keys.POD_INJECT_LABEL: "true"},
        owned_labels=(keys.POD_INJECT_LABEL,),
        manager="kubectl",
    )
    assert workloads.opt_in_apply(workload) is None


def test_false_asks_for_an_explicit_opt_out_without_the_config() -> None:
    body = workloads.opt_in_apply(
        _workload({keys.WORKLOAD_INJECT_ANNOTATION: "false", keys.CONFIG_ANNOTATION: "gold"})
    )
    assert body is not None
    assert body["spec"]["template"]["metadata"] == {"labels": {keys.POD_INJECT_LABEL: "false"}}


@pytest.mark.parametrize("value", ["yes", "", "1", "enabled"])
def test_another_value_is_an_error_naming_the_annotation(value: str) -> None:
    with pytest.raises(workloads.OptInError, match=keys.WORKLOAD_INJECT_ANNOTATION):
        workloads.opt_in_apply(_workload({keys.WORKLOAD_INJECT_ANNOTATION: value}))


def test_the_rollout_stamp_is_one_annotation_of_the_template() -> None:
    ref = workloads.WorkloadRef("StatefulSet", "shop", "db")
    body = workloads.rollout_apply(ref, "abc123")
    assert body["kind"] == "StatefulSet"
    assert body["spec"] == {"template": {"metadata": {"annotations": {keys.ROLLOUT_ANNOTATION: "abc123"}}}}
    assert workloads.rollout_stamp({"spec": body["spec"]}) == "abc123"
