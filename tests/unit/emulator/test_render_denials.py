"""When there is no entitlements state to give, the reason is a GraphQL enum value."""

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
        ("customer-enterprise", "workspace-missing", "CustomerResourceNotFound"),
        ("customer-free", "workspace-eu", "CustomerResourceNotFound"),  # another customer's resource
        ("customer-unsubscribed", None, "NoActiveSubscription"),
    ],
)
def test_denied_states_have_no_entitlements_and_a_reason(
    sample: catalog.Catalog, customer_id: str, resource_id: str | None, reason: str
) -> None:
    state = render.entitlements_state(
        sample.features, sample.customers.get(customer_id), resource_id, usage={}, updated_at=NOW, now=NOW
    )
    assert state == {"__typename": "EntitlementsState", "entitlements": [], "accessDeniedReason": reason}


def test_reasons_are_checked_customer_first() -> None:
    archived = catalog.Customer(
        id="c", subscription=catalog.Subscription(plan=None, entitlements={}, usage={}), archived=True
    )
    assert (
        render.access_denied_reason(archived, "no-such-resource")
        is render.AccessDeniedReason.CUSTOMER_IS_ARCHIVED
    )
    assert render.access_denied_reason(None, "r") is render.AccessDeniedReason.CUSTOMER_NOT_FOUND
