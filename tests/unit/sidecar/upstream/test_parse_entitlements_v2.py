"""The current entitlements list, ``entitlementsV2``, is read when present: feature and credit
entitlements told apart by ``__typename``; an item of an unknown kind is skipped and reported,
never a failed fetch; without it the legacy ``entitlements`` list is read."""

from __future__ import annotations

import datetime
from typing import Any

from stigg_sidecar import model
from stigg_sidecar.upstream import parse

KEY = model.CustomerKey("c1")
FEATURE: dict[str, Any] = {
    "__typename": "FeatureEntitlement",
    "isGranted": True,
    "usageLimit": 10,
    "currentUsage": 3,
    "hasSoftLimit": False,
    "feature": {"refId": "seats", "featureType": "NUMBER", "meterType": "Fluctuating"},
}
CREDIT: dict[str, Any] = {
    "__typename": "CreditEntitlement",
    "isGranted": True,
    "currency": {
        "currencyId": "credits-ai",
        "displayName": "AI credits",
        "description": "Prepaid",
        "unitSingular": "credit",
        "unitPlural": "credits",
        "additionalMetaData": {"category": "ai"},
    },
    "usageLimit": 5000,
    "currentUsage": 1250,
    "hasSoftLimit": True,
    "usagePeriodEnd": "2027-01-01T00:00:00.000Z",
    "someFieldFromTheFuture": 1,
}


def test_the_current_list_holds_features_and_credits() -> None:
    legacy = {**FEATURE, "__typename": "Entitlement", "usageLimit": 99}
    state = parse.entitlements_state(KEY, {"entitlements": [legacy], "entitlementsV2": [FEATURE, CREDIT]})
    assert state.entitlements["seats"].usage_limit == 10, "entitlementsV2 is preferred"
    credit = state.credits["credits-ai"]
    assert (credit.usage_limit, credit.current_usage, credit.remaining, credit.has_soft_limit) == (
        5000,
        1250,
        3750,
        True,
    )
    assert credit.currency == model.Currency(
        "credits-ai", "AI credits", "Prepaid", "credit", "credits", {"category": "ai"}
    )
    assert credit.usage_period_end == datetime.datetime(2027, 1, 1, tzinfo=datetime.UTC)


def test_an_unknown_kind_is_skipped_and_reported() -> None:
    skipped: list[str] = []
    state = parse.entitlements_state(
        KEY, {"entitlementsV2": [FEATURE, {"__typename": "BudgetEntitlement", "x": 1}]}, skipped.append
    )
    assert list(state.entitlements) == ["seats"]
    assert skipped == ["BudgetEntitlement"]


def test_without_the_current_list_the_legacy_one_is_read() -> None:
    legacy = {key: value for key, value in FEATURE.items() if key != "__typename"}
    state = parse.entitlements_state(KEY, {"entitlements": [legacy], "accessDeniedReason": None})
    assert state.entitlements["seats"].current_usage == 3
    assert state.credits == {}
