"""``entitlementsV2`` lists each feature as a ``FeatureEntitlement`` (the fields of Stigg's
``FeatureEntitlementFragment``, the same values as the legacy ``Entitlement``), then the
granted credit currencies as ``CreditEntitlement`` items (pure: usage and time given)."""

from __future__ import annotations

import datetime

import pytest

from stigg_emulator import catalog, loading, render

NOW = datetime.datetime(2026, 3, 14, 15, 9, 26, 535000, tzinfo=datetime.UTC)
UPDATED = datetime.datetime(2026, 3, 1, 8, 0, tzinfo=datetime.UTC)


@pytest.fixture(scope="module")
def sample() -> catalog.Catalog:
    return loading.load(catalog.SAMPLE_PATH)


def test_features_are_feature_entitlements_with_the_legacy_values(sample: catalog.Catalog) -> None:
    usage = {"feature-api-calls": render.MeasuredUsage(99000.0, NOW)}
    state = render.entitlements_state(
        sample, sample.customers["customer-pro"], None, usage=usage, updated_at=UPDATED, now=NOW
    )
    features = [e for e in state["entitlementsV2"] if e["__typename"] == "FeatureEntitlement"]
    assert len(features) == len(state["entitlements"]) == 5
    for v2, legacy in zip(features, state["entitlements"], strict=True):
        assert list(v2) == ["__typename", *render.FEATURE_ENTITLEMENT_FIELDS]
        assert {name: v2[name] for name in render.FEATURE_ENTITLEMENT_FIELDS} == {
            name: legacy[name] for name in render.FEATURE_ENTITLEMENT_FIELDS
        }
    calls = features[3]
    assert (calls["feature"]["refId"], calls["currentUsage"], calls["usagePeriodEnd"]) == (
        "feature-api-calls",
        99000,
        "2026-04-01T00:00:00.000Z",
    )
    assert "customerId" not in calls
    assert "nextResetDate" not in calls


def test_a_missing_feature_is_a_feature_entitlement_not_granted(sample: catalog.Catalog) -> None:
    state = render.entitlements_state(
        sample, sample.customers["customer-free"], None, usage={}, updated_at=UPDATED, now=NOW
    )
    sso = state["entitlementsV2"][0]
    assert (sso["__typename"], sso["feature"]["refId"], sso["isGranted"], sso["accessDeniedReason"]) == (
        "FeatureEntitlement",
        "feature-sso",
        False,
        "NoFeatureEntitlementInSubscription",
    )


def test_a_granted_currency_is_a_credit_entitlement(sample: catalog.Catalog) -> None:
    credits = {"credits-ai": render.MeasuredUsage(1250.0, NOW)}
    state = render.entitlements_state(
        sample,
        sample.customers["customer-pro"],
        None,
        usage={},
        credit_usage=credits,
        updated_at=UPDATED,
        now=NOW,
    )
    assert state["entitlementsV2"][-1] == {
        "__typename": "CreditEntitlement",
        "isGranted": True,
        "accessDeniedReason": None,
        "currency": {
            "currencyId": "credits-ai",
            "displayName": "AI credits",
            "description": "Prepaid credits spent by the AI assistant",
            "unitSingular": "credit",
            "unitPlural": "credits",
            "additionalMetaData": {"category": "ai", "billing": "prepaid"},
        },
        "usageLimit": 5000,
        "currentUsage": 1250,
        "hasSoftLimit": False,
        "usageUpdatedAt": "2026-03-14T15:09:26.535Z",
        "entitlementUpdatedAt": "2026-03-01T08:00:00.000Z",
        "usagePeriodEnd": "2026-04-01T00:00:00.000Z",
        "validUntil": None,
    }


def test_a_plan_without_credits_lists_no_credit_entitlement(sample: catalog.Catalog) -> None:
    state = render.entitlements_state(
        sample, sample.customers["customer-free"], None, usage={}, updated_at=UPDATED, now=NOW
    )
    assert {e["__typename"] for e in state["entitlementsV2"]} == {"FeatureEntitlement"}


def test_a_soft_credit_limit_and_no_usage_yet(sample: catalog.Catalog) -> None:
    state = render.entitlements_state(
        sample, sample.customers["customer-enterprise"], None, usage={}, updated_at=UPDATED, now=NOW
    )
    credit = state["entitlementsV2"][-1]
    assert (
        credit["usageLimit"],
        credit["currentUsage"],
        credit["hasSoftLimit"],
        credit["usageUpdatedAt"],
    ) == (
        100000,
        0,
        True,
        None,
    )
