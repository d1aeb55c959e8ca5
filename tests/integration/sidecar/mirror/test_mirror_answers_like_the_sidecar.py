"""Answers from the mirror are the sidecar's answers: for every kind of check, customer and
resource of the sample catalog, the response message the mirrored client builds in-process
equals the one the sidecar sends for the same request, and the sidecar answered none of them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import pytest

from stigg_devkit import sidecar_launcher
from stigg_sidecar import client
from stigg_sidecar.mirror import client as mirrored_client
from stigg_sidecar.v1 import sidecar_pb2 as pb
from tests.integration.sidecar.mirror import conftest

KEYS = [
    ("customer-free", None),
    ("customer-pro", None),
    ("customer-enterprise", None),
    ("customer-enterprise", "workspace-eu"),
    ("customer-archived", None),
    ("customer-unknown", None),
]
FEATURES = [
    "feature-sso",
    "feature-max-projects",
    "feature-seats",
    "feature-api-calls",
    "feature-data-region",
]


def _questions(customer: str, resource: str | None) -> list[tuple[str, Callable[[Any], Any]]]:
    """(label, ask) pairs: each ``ask`` takes a client and returns its answer."""
    questions: list[tuple[str, Callable[[Any], Any]]] = []
    for feature in FEATURES:
        questions += [
            (
                f"boolean {feature}",
                lambda c, f=feature: c.get_boolean_entitlement(customer, f, resource_id=resource),
            ),
            (
                f"numeric {feature}",
                lambda c, f=feature: c.get_numeric_entitlement(customer, f, resource_id=resource),
            ),
            (
                f"metered {feature}",
                lambda c, f=feature: c.get_metered_entitlement(customer, f, resource_id=resource),
            ),
            (
                f"metered {feature} +5",
                lambda c, f=feature: c.get_metered_entitlement(
                    customer, f, resource_id=resource, requested_usage=5
                ),
            ),
            (
                f"enum {feature}",
                lambda c, f=feature: c.get_enum_entitlement(
                    customer, f, resource_id=resource, requested_values=["eu"]
                ),
            ),
            (
                f"generic {feature}",
                lambda c, f=feature: c.get_entitlement(
                    pb.GetEntitlementRequest(customer_id=customer, resource_id=resource, feature_id=f)
                ),
            ),
            (
                f"v2 {feature}",
                lambda c, f=feature: c.get_entitlement_v2(
                    pb.GetEntitlementV2Request(customer_id=customer, resource_id=resource, feature_id=f)
                ),
            ),
        ]
    questions += [
        (
            "credit",
            lambda c: c.get_entitlement_v2(
                pb.GetEntitlementV2Request(
                    customer_id=customer,
                    resource_id=resource,
                    currency_id="credits-ai",
                    options=pb.GetEntitlementOptions(requested_usage=100),
                )
            ),
        ),
        ("all", lambda c: c.get_entitlements(customer, resource_id=resource)),
        ("state v2", lambda c: c.get_entitlements_state_v2(customer, resource_id=resource)),
    ]
    return questions


def test_every_mirrored_answer_equals_the_sidecars(mirror_sidecar: sidecar_launcher.RunningSidecar) -> None:
    with (
        client.SidecarClient(mirror_sidecar.grpc_target, timeout=5) as plain,
        mirrored_client.MirroredSidecarClient(mirror_sidecar.grpc_target, timeout=5, staleness=2) as mirror,
    ):
        for customer, resource in KEYS:  # subscribe every key
            conftest.mirrored(lambda c=customer, r=resource: mirror.get_entitlements(c, resource_id=r))
        before = conftest.checks_answered(mirror_sidecar)
        asked = [
            (f"{customer}/{resource}: {label}", ask, ask(mirror))
            for customer, resource in KEYS
            for label, ask in _questions(customer, resource)
        ]
        from_sidecar = sum(not answer.from_mirror for _, _, answer in asked)
        assert conftest.checks_answered(mirror_sidecar) - before == from_sidecar, (
            "the mirror answered the rest"
        )
        assert len(asked) - from_sidecar >= 180, "most questions are decided in-process"
        for label, ask, answer in asked:
            assert answer.response == ask(plain), label


def test_questions_the_sidecar_would_refuse_go_to_the_sidecar(
    mirror_sidecar: sidecar_launcher.RunningSidecar,
) -> None:
    with mirrored_client.MirroredSidecarClient(mirror_sidecar.grpc_target, timeout=5, staleness=2) as mirror:
        conftest.mirrored(lambda: mirror.get_boolean_entitlement("customer-pro", "feature-sso"))
        with pytest.raises(grpc.RpcError) as refused:
            mirror.get_metered_entitlement("customer-pro", "feature-seats", requested_usage=-1)
        assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert "options.requested_usage" in refused.value.details()
        with pytest.raises(grpc.RpcError) as blank:
            mirror.get_boolean_entitlement("customer-pro", " ")
        assert "feature_id" in blank.value.details()
        unknown = mirror.get_boolean_entitlement("customer-pro", "feature-nobody-has")
        assert not unknown.from_mirror
        assert unknown.denied_reason is not None
