"""Metered checks through the SDK: a hard limit grants up to it and denies past it; a soft
limit grants past it and says so (``has_soft_limit`` true, in every answer that carries the
entitlement); unlimited grants anything; the SDK sees ``has_soft_limit`` false, not unset, on a
hard limit."""

from __future__ import annotations

from typing import Any

from tests import stigg_sdk

CALLS = "feature-api-calls"


def _metered(sdk: stigg_sdk.SdkClient, customer_id: str, feature_id: str, **options: Any) -> dict[str, Any]:
    request = {"customer_id": customer_id, "feature_id": feature_id, "options": options}
    return sdk.response("GetMeteredEntitlement", request)


def test_hard_limit(module_sdk: stigg_sdk.SdkClient) -> None:
    # customer-free: 1000 calls, 250 used.
    at_limit = _metered(module_sdk, "customer-free", CALLS, requested_usage=750)
    assert (at_limit["has_access"], at_limit["entitlement"]["has_soft_limit"]) == (True, False)
    past = _metered(module_sdk, "customer-free", CALLS, requested_usage=751)
    assert (past["has_access"], past["access_denied_reason"], past["requested_usage"]) == (
        False,
        "ACCESS_DENIED_REASON_REQUESTED_USAGE_EXCEEDING_LIMIT",
        751,
    )
    assert past["entitlement"]["has_soft_limit"] is False
    unasked = _metered(module_sdk, "customer-free", CALLS)
    assert (unasked["has_access"], unasked["requested_usage"]) == (True, 0)


def test_soft_limit_grants_past_the_limit_and_says_so(module_sdk: stigg_sdk.SdkClient) -> None:
    # customer-pro: a soft limit of 100000 calls, 99000 used; 5000 more goes past it.
    soft = _metered(module_sdk, "customer-pro", CALLS, requested_usage=5000)
    assert (soft["has_access"], soft["access_denied_reason"]) == (True, None)
    assert (soft["entitlement"]["usage_limit"], soft["entitlement"]["current_usage"]) == (100000, 99000)
    assert soft["entitlement"]["has_soft_limit"] is True


def test_every_answer_with_the_entitlement_carries_the_soft_limit(module_sdk: stigg_sdk.SdkClient) -> None:
    request = {"customer_id": "customer-pro", "feature_id": CALLS, "options": {"requested_usage": 5000}}
    generic = module_sdk.response("GetEntitlement", request)
    assert (generic["has_access"], generic["metered"]["has_soft_limit"]) == (True, True)
    v2 = module_sdk.response("GetEntitlementV2", request)["entitlement"]
    assert (v2["has_access"], v2["metered"]["has_soft_limit"]) == (True, True)

    def soft_flags(answer: dict[str, Any]) -> dict[str, bool]:
        return {
            entry["metered"]["feature"]["id"]: entry["metered"]["has_soft_limit"]
            for entry in answer["entitlements"]
            if "metered" in entry
        }

    expected = {CALLS: True, "feature-seats": False}
    assert soft_flags(module_sdk.response("GetEntitlements", {"customer_id": "customer-pro"})) == expected
    state = module_sdk.response("GetEntitlementsStateV2", {"customer_id": "customer-pro"})
    assert soft_flags(state) == expected


def test_unlimited_grants_any_usage(module_sdk: stigg_sdk.SdkClient) -> None:
    unlimited = _metered(module_sdk, "customer-enterprise", "feature-seats", requested_usage=10**9)
    assert unlimited["has_access"] is True
    entitlement = unlimited["entitlement"]
    assert (entitlement["is_unlimited"], entitlement["usage_limit"], entitlement["current_usage"]) == (
        True,
        None,
        120,
    )
    assert entitlement["has_soft_limit"] is False
