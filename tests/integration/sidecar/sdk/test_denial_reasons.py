"""Every denial reason the sidecar gives from what the upstream knows reaches the SDK by name,
with ``has_access`` false and ``is_fallback`` false, in the typed, generic and V2 answers.
(UNKNOWN, the denial with nothing known, is in test_fallback_during_outage.py; BUDGET_EXCEEDED,
INSUFFICIENT_CREDITS, REVOKED and ENTITLEMENT_NOT_FOUND come from credit entitlements, built
separately.)"""

from __future__ import annotations

from typing import Any

import pytest

from tests import stigg_sdk

R = "ACCESS_DENIED_REASON_"
CASES: list[tuple[str, dict[str, Any], str]] = [
    (
        "GetBooleanEntitlement",
        {"customer_id": "customer-nobody", "feature_id": "feature-sso"},
        "CUSTOMER_NOT_FOUND",
    ),
    (
        "GetBooleanEntitlement",
        {"customer_id": "customer-archived", "feature_id": "feature-sso"},
        "CUSTOMER_IS_ARCHIVED",
    ),
    (
        "GetBooleanEntitlement",
        {"customer_id": "customer-enterprise", "resource_id": "workspace-x", "feature_id": "feature-sso"},
        "CUSTOMER_RESOURCE_NOT_FOUND",
    ),
    (
        "GetMeteredEntitlement",
        {"customer_id": "customer-unsubscribed", "feature_id": "feature-api-calls"},
        "NO_ACTIVE_SUBSCRIPTION",
    ),
    (
        "GetBooleanEntitlement",
        {"customer_id": "customer-pro", "feature_id": "feature-teleport"},
        "FEATURE_NOT_FOUND",
    ),
    (
        "GetBooleanEntitlement",
        {"customer_id": "customer-free", "feature_id": "feature-sso"},
        "NO_FEATURE_ENTITLEMENT_IN_SUBSCRIPTION",
    ),
    (
        "GetNumericEntitlement",
        {"customer_id": "customer-pro", "feature_id": "feature-sso"},
        "FEATURE_TYPE_MISMATCH",
    ),
    (
        "GetMeteredEntitlement",
        {
            "customer_id": "customer-free",
            "feature_id": "feature-api-calls",
            "options": {"requested_usage": 751},
        },
        "REQUESTED_USAGE_EXCEEDING_LIMIT",
    ),
    (
        "GetEnumEntitlement",
        {
            "customer_id": "customer-free",
            "feature_id": "feature-data-region",
            "options": {"requested_values": ["eu"]},
        },
        "REQUESTED_VALUES_MISMATCH",
    ),
]


@pytest.mark.parametrize(("method", "request_", "reason"), CASES, ids=[case[2] for case in CASES])
def test_typed_getter_denies_with_the_reason(
    module_sdk: stigg_sdk.SdkClient, method: str, request_: dict[str, Any], reason: str
) -> None:
    answer = module_sdk.response(method, request_)
    assert (answer["has_access"], answer["is_fallback"], answer["access_denied_reason"]) == (
        False,
        False,
        R + reason,
    )
    assert answer["entitlement"]["feature"]["id"] == request_["feature_id"], "the feature is named even so"


@pytest.mark.parametrize(
    ("method", "request_", "reason"),
    [case for case in CASES if case[2] != "FEATURE_TYPE_MISMATCH"],  # they take any type
    ids=[case[2] for case in CASES if case[2] != "FEATURE_TYPE_MISMATCH"],
)
def test_generic_and_v2_getters_deny_with_the_reason(
    module_sdk: stigg_sdk.SdkClient, method: str, request_: dict[str, Any], reason: str
) -> None:
    del method  # the same request (GetEntitlementOptions has requested_usage and requested_values)
    generic = module_sdk.response("GetEntitlement", request_)
    assert (generic["has_access"], generic["access_denied_reason"]) == (False, R + reason)
    v2 = module_sdk.response("GetEntitlementV2", request_)["entitlement"]
    assert (v2["has_access"], v2["is_fallback"], v2["access_denied_reason"]) == (False, False, R + reason)


@pytest.mark.parametrize(
    ("customer_id", "reason"),
    [
        ("customer-nobody", "CUSTOMER_NOT_FOUND"),
        ("customer-archived", "CUSTOMER_IS_ARCHIVED"),
        ("customer-unsubscribed", "NO_ACTIVE_SUBSCRIPTION"),
    ],
)
def test_a_denied_customer_has_a_state_level_reason(
    module_sdk: stigg_sdk.SdkClient, customer_id: str, reason: str
) -> None:
    listed = module_sdk.response("GetEntitlements", {"customer_id": customer_id})
    assert (listed["entitlements"], listed["access_denied_reason"]) == ([], R + reason)
    state = module_sdk.response("GetEntitlementsStateV2", {"customer_id": customer_id})
    assert (state["entitlements"], state["access_denied_reason"]) == ([], R + reason)
