"""When there is no entitlements state to give, the state-level reason is one of the three
values of Stigg's ``EntitlementsStateAccessDeniedReason``, and both lists are empty; an unknown
resource is not such a reason: its features are each denied ``CustomerResourceNotFound``."""

from __future__ import annotations

import datetime

import pytest

from stigg_emulator import catalog, loading, render

NOW = datetime.datetime(2026, 3, 14, tzinfo=datetime.UTC)


@pytest.fixture(scope="module")
def sample() -> catalog.Catalog:
    return loading.load(catalog.SAMPLE_PATH)


@pytest.mark.parametrize(
    ("customer_id", "resource_id", "reason"),
    [
        ("nobody", None, "CustomerNotFound"),
        ("customer-archived", None, "CustomerIsArchived"),
        ("customer-unsubscribed", None, "NoActiveSubscription"),
    ],
)
def test_denied_states_have_no_entitlements_and_a_reason(
    sample: catalog.Catalog, customer_id: str, resource_id: str | None, reason: str
) -> None:
    state = render.entitlements_state(
        sample, sample.customers.get(customer_id), resource_id, usage={}, updated_at=NOW, now=NOW
    )
    assert state == {
        "__typename": "EntitlementsState",
        "entitlements": [],
        "entitlementsV2": [],
        "accessDeniedReason": reason,
    }
    assert render.AccessDeniedReason(reason) in render.STATE_REASONS


@pytest.mark.parametrize(
    ("customer_id", "resource_id"),
    [
        ("customer-enterprise", "workspace-missing"),
        ("customer-free", "workspace-eu"),
    ],  # the latter: another's
)
def test_an_unknown_resource_denies_every_feature_without_a_state_level_reason(
    sample: catalog.Catalog, customer_id: str, resource_id: str
) -> None:
    state = render.entitlements_state(
        sample, sample.customers[customer_id], resource_id, usage={}, updated_at=NOW, now=NOW
    )
    assert state["accessDeniedReason"] is None
    assert [e["feature"]["refId"] for e in state["entitlements"]] == list(sample.features)
    for listed in (state["entitlements"], state["entitlementsV2"]):
        assert {(e["isGranted"], e["accessDeniedReason"]) for e in listed} == {
            (False, "CustomerResourceNotFound")
        }
    assert all(e["__typename"] == "FeatureEntitlement" for e in state["entitlementsV2"])  # no credits


def test_reasons_are_checked_customer_first() -> None:
    archived = catalog.Customer(
        id="c", subscription=catalog.Subscription(plan=None, entitlements={}, usage={}), archived=True
    )
    assert (
        render.access_denied_reason(archived, "no-such-resource")
        is render.AccessDeniedReason.CUSTOMER_IS_ARCHIVED
    )
    assert render.access_denied_reason(None, "r") is render.AccessDeniedReason.CUSTOMER_NOT_FOUND
