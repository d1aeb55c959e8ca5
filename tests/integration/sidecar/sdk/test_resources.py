"""Resource-scoped checks through the SDK: a customer's resource has its own plan and usage,
apart from the customer's; an unknown resource is CUSTOMER_RESOURCE_NOT_FOUND."""

from __future__ import annotations

from tests import stigg_sdk

ENTERPRISE = "customer-enterprise"


def test_a_resource_has_its_own_plan_and_usage(module_sdk: stigg_sdk.SdkClient) -> None:
    request = {"customer_id": ENTERPRISE, "feature_id": "feature-seats", "options": {"requested_usage": 1}}
    customer = module_sdk.response("GetMeteredEntitlement", request)["entitlement"]
    assert (customer["is_unlimited"], customer["current_usage"]) == (True, 120)
    workspace = module_sdk.response("GetMeteredEntitlement", {**request, "resource_id": "workspace-eu"})
    assert workspace["has_access"] is True
    assert (workspace["entitlement"]["usage_limit"], workspace["entitlement"]["current_usage"]) == (10, 4)
    over = module_sdk.response(
        "GetMeteredEntitlement", {**request, "resource_id": "workspace-eu", "options": {"requested_usage": 7}}
    )
    assert (over["has_access"], over["access_denied_reason"]) == (
        False,
        "ACCESS_DENIED_REASON_REQUESTED_USAGE_EXCEEDING_LIMIT",
    )


def test_each_resource_is_checked_on_its_plan(module_sdk: stigg_sdk.SdkClient) -> None:
    sso = {"customer_id": ENTERPRISE, "feature_id": "feature-sso"}
    pro = module_sdk.response("GetBooleanEntitlement", {**sso, "resource_id": "workspace-eu"})
    free = module_sdk.response("GetBooleanEntitlement", {**sso, "resource_id": "workspace-sandbox"})
    assert (pro["has_access"], free["has_access"], free["access_denied_reason"]) == (
        True,
        False,
        "ACCESS_DENIED_REASON_NO_FEATURE_ENTITLEMENT_IN_SUBSCRIPTION",
    )
    listed = module_sdk.response(
        "GetEntitlements", {"customer_id": ENTERPRISE, "resource_id": "workspace-sandbox"}
    )
    features = {entry[kind]["feature"]["id"] for entry in listed["entitlements"] for kind in entry}
    assert "feature-sso" not in features
    assert "feature-seats" in features


def test_an_unknown_resource_is_not_found(module_sdk: stigg_sdk.SdkClient) -> None:
    """Stigg's state-level reasons are only CustomerIsArchived, CustomerNotFound and
    NoActiveSubscription: an unknown resource denies each feature instead."""
    unknown = {"customer_id": ENTERPRISE, "resource_id": "workspace-x"}
    checked = module_sdk.response("GetBooleanEntitlement", {**unknown, "feature_id": "feature-sso"})
    assert (checked["has_access"], checked["access_denied_reason"]) == (
        False,
        "ACCESS_DENIED_REASON_CUSTOMER_RESOURCE_NOT_FOUND",
    )
    answer = module_sdk.response("GetEntitlementsStateV2", unknown)
    assert answer["entitlements"], "every feature, each denied"
    assert {(e["has_access"], e["access_denied_reason"]) for e in answer["entitlements"]} == {
        (False, "ACCESS_DENIED_REASON_CUSTOMER_RESOURCE_NOT_FOUND")
    }
