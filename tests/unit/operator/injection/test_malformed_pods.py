"""A malformed object is denied with the field named in words, never with a Python message:
``shape.problem`` finds the first field out of the shape the patcher reads, and the webhook
denies with it before the patcher could fail on it (a review the apiserver did not send may
hold anything). Every well-formed Pod of the injector's tests passes the check."""

from __future__ import annotations

from typing import Any

import kopf
import pytest

from stigg_operator import settings
from stigg_operator.adapters import webhook
from stigg_operator.injection import shape
from tests.unit.operator.injection import pods


@pytest.mark.parametrize(
    ("pod", "expected"),
    [
        ("a pod", "the object: must be a Pod (an object), got a string"),
        ({"spec": []}, "spec: must be an object, got a list"),
        (
            {"metadata": {"annotations": ["x"]}, "spec": {}},
            "metadata.annotations: must be an object, got a list",
        ),
        (
            {"metadata": {"labels": {"app": 1}}, "spec": {}},
            "metadata.labels['app']: must be a string, got a number",
        ),
        ({"spec": {"containers": "web"}}, "spec.containers: must be a list, got a string"),
        ({"spec": {"containers": ["web"]}}, "spec.containers[0]: must be an object, got a string"),
        ({"spec": {"containers": [{"image": "x"}]}}, "spec.containers[0].name: must be a string, got null"),
        (
            {"spec": {"containers": [{"name": "a"}, {"name": "b", "env": "X=1"}]}},
            "spec.containers[1].env: must be a list, got a string",
        ),
        (
            {"spec": {"initContainers": [{"name": "m", "ports": [80]}]}},
            "spec.initContainers[0].ports[0]: must be an object, got a number",
        ),
        (
            {"spec": {"containers": [{"name": "a", "ports": [{"containerPort": "80"}]}]}},
            "spec.containers[0].ports[0].containerPort: must be an integer, got a string",
        ),
        ({"spec": {"volumes": {"name": "v"}}}, "spec.volumes: must be a list, got an object"),
        ({"spec": {"os": "windows"}}, "spec.os: must be an object, got a string"),
    ],
)
def test_the_first_field_out_of_shape_is_named(pod: Any, expected: str) -> None:
    assert shape.problem(pod) == expected


@pytest.mark.parametrize("make", [pods.bare_pod, pods.rich_pod])
def test_well_formed_pods_pass(make: Any) -> None:
    assert shape.problem(make()) is None


def test_the_webhook_denies_a_malformed_pod_in_words() -> None:
    body = {"metadata": {"namespace": "shop"}, "spec": {"containers": [{"name": "web", "env": "A=1"}]}}
    with pytest.raises(kopf.AdmissionError) as denied:
        webhook.inject(
            body=kopf.Body(body),
            namespace="shop",
            patch=kopf.Patch(),
            warnings=[],
            config=settings.Settings(namespace="stigg-system"),
            list_serving=lambda _: {},
            entitlements={},
        )
    assert str(denied.value) == "malformed Pod: spec.containers[0].env: must be a list, got a string"
    assert denied.value.code == 400
