"""Stigg's current stream events parse as the legacy ones do, and more: an entitlements
event carries credit currencies and the state's denial reason; a usage event names a feature
or a credit currency by reference; a published package says whether it moves every customer."""

from __future__ import annotations

import pytest

from stigg_sidecar import model
from stigg_sidecar.upstream import parse

KEY = model.CustomerKey("c1", "r1")


def test_entitlements_updated_v2() -> None:
    event = parse.stream_event(
        {
            "entitlementsUpdatedV2": {
                "customerId": "c1",
                "resourceId": "r1",
                "accessDeniedReason": None,
                "entitlements": [
                    {
                        "__typename": "FeatureEntitlement",
                        "isGranted": True,
                        "feature": {"refId": "sso", "featureType": "BOOLEAN", "meterType": "None"},
                    },
                    {
                        "__typename": "CreditEntitlement",
                        "currency": {"currencyId": "cred", "displayName": "Credits"},
                        "usageLimit": 10,
                        "currentUsage": 2,
                    },
                ],
            }
        }
    )
    assert isinstance(event, parse.EntitlementsUpdated)
    assert event.key == KEY
    assert [e.feature.id for e in event.entitlements] == ["sso"]
    assert [(c.currency.id, c.usage_limit, c.current_usage) for c in event.credits] == [("cred", 10, 2)]


def test_entitlements_updated_v2_with_a_denial() -> None:
    event = parse.stream_event(
        {
            "entitlementsUpdatedV2": {
                "customerId": "c1",
                "accessDeniedReason": "CustomerIsArchived",
                "entitlements": [],
            }
        }
    )
    assert isinstance(event, parse.EntitlementsUpdated)
    assert event.denied_reason is model.DeniedReason.CUSTOMER_IS_ARCHIVED


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ({"type": "FEATURE", "id": "calls"}, parse.UsageUpdated(KEY, "calls", 42.0, None)),
        ({"type": "CREDIT", "id": "cred"}, parse.CreditUsageUpdated(KEY, "cred", 42.0)),
    ],
)
def test_usage_updated_v2(reference: dict[str, str], expected: parse.StreamEvent) -> None:
    event = parse.stream_event(
        {
            "usageUpdatedV2": {
                "customerId": "c1",
                "resourceId": "r1",
                "entitlementReference": reference,
                "usage": {"currentUsage": 42, "usageUpdatedAt": "2026-12-01T00:00:00Z"},
            }
        }
    )
    assert event == expected


def test_a_usage_reference_of_an_unknown_kind_is_skipped_and_reported() -> None:
    skipped: list[str] = []
    data = {
        "usageUpdatedV2": {
            "customerId": "c1",
            "entitlementReference": {"type": "BUDGET", "id": "b"},
            "usage": {"currentUsage": 1},
        }
    }
    assert parse.stream_event(data, skipped.append) is None
    assert skipped == ["EntitlementReference.BUDGET"]


@pytest.mark.parametrize(("migration", "everyone"), [("ALL_CUSTOMERS", True), ("NEW_CUSTOMERS", False)])
def test_package_published(migration: str, everyone: bool) -> None:
    event = parse.stream_event({"packagePublished": {"packageRefId": "plan-pro", "migrationType": migration}})
    assert event == parse.PackagePublished("plan-pro", everyone)
