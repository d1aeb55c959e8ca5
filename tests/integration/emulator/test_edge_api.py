"""The Edge API's current path over real HTTP (``entitlements-state.json``): the entitlements
state of known, unknown, archived and unsubscribed customers and of resources, behind the key.
(The legacy path has its own test file.)"""

from __future__ import annotations

import pytest

from tests.integration.emulator import upstream as upstream_client

Upstream = upstream_client.Upstream


async def test_a_known_customer_gets_its_entitlements(upstream: Upstream) -> None:
    status, body = await upstream.edge("customer-pro")
    assert status == 200
    state = body["data"]["entitlementsState"]
    assert state["accessDeniedReason"] is None
    by_feature = {entitlement["feature"]["refId"]: entitlement for entitlement in state["entitlements"]}
    assert set(by_feature) == {
        "feature-sso",
        "feature-max-projects",
        "feature-seats",
        "feature-api-calls",
        "feature-data-region",
    }
    assert by_feature["feature-seats"]["usageLimit"] == 15
    assert by_feature["feature-seats"]["currentUsage"] == 7
    assert by_feature["feature-api-calls"]["currentUsage"] == 99000
    assert by_feature["feature-api-calls"]["hasSoftLimit"] is True
    assert by_feature["feature-data-region"]["enumValues"] == ["us", "eu"]
    assert all(entitlement["customerId"] == "customer-pro" for entitlement in state["entitlements"])


async def test_the_state_also_lists_features_and_credits_in_entitlements_v2(upstream: Upstream) -> None:
    _, body = await upstream.edge("customer-pro")
    state = body["data"]["entitlementsState"]
    kinds = [entitlement["__typename"] for entitlement in state["entitlementsV2"]]
    assert kinds == ["FeatureEntitlement"] * 5 + ["CreditEntitlement"]
    features = [e["feature"]["refId"] for e in state["entitlementsV2"][:5]]
    assert features == [e["feature"]["refId"] for e in state["entitlements"]]
    credit = state["entitlementsV2"][5]
    assert (credit["currency"]["currencyId"], credit["usageLimit"], credit["currentUsage"]) == (
        "credits-ai",
        5000,
        1250,
    )


@pytest.mark.parametrize(
    ("customer_id", "resource_id", "reason"),
    [
        ("customer-nobody", None, "CustomerNotFound"),
        ("customer-archived", None, "CustomerIsArchived"),
        ("customer-unsubscribed", None, "NoActiveSubscription"),
    ],
)
async def test_denials_are_a_200_with_a_reason_and_no_entitlements(
    upstream: Upstream, customer_id: str, resource_id: str | None, reason: str
) -> None:
    status, body = await upstream.edge(customer_id, resource_id=resource_id)
    assert status == 200
    assert body["data"]["entitlementsState"]["entitlements"] == []
    assert body["data"]["entitlementsState"]["entitlementsV2"] == []
    assert body["data"]["entitlementsState"]["accessDeniedReason"] == reason
    assert "errors" not in body


async def test_an_unknown_resource_denies_each_feature_not_the_state(upstream: Upstream) -> None:
    status, body = await upstream.edge("customer-enterprise", resource_id="workspace-missing")
    assert status == 200
    state = body["data"]["entitlementsState"]
    assert state["accessDeniedReason"] is None
    assert {(e["isGranted"], e["accessDeniedReason"]) for e in state["entitlements"]} == {
        (False, "CustomerResourceNotFound")
    }


async def test_a_resource_gets_its_own_plan_and_usage(upstream: Upstream) -> None:
    entitlements = await upstream.entitlements("customer-enterprise", resource_id="workspace-eu")
    assert entitlements["feature-seats"]["usageLimit"] == 10  # plan-pro, the resource's plan
    assert entitlements["feature-seats"]["currentUsage"] == 4
    assert entitlements["feature-seats"]["resourceId"] == "workspace-eu"
    customer_level = await upstream.entitlements("customer-enterprise")
    assert customer_level["feature-seats"]["hasUnlimitedUsage"] is True
    assert customer_level["feature-seats"]["resourceId"] is None


async def test_an_empty_resource_id_means_the_customer_itself(upstream: Upstream) -> None:
    status, body = await upstream.edge("customer-enterprise", resource_id="")
    assert status == 200
    assert body["data"]["entitlementsState"]["accessDeniedReason"] is None
    assert body["data"]["entitlementsState"]["entitlements"][0]["resourceId"] is None


@pytest.mark.parametrize("key", ["wrong-key", ""], ids=["wrong", "missing"])
async def test_a_wrong_or_missing_api_key_is_a_401_that_does_not_echo_it(
    upstream: Upstream, key: str
) -> None:
    status, body = await upstream.edge("customer-pro", api_key=key)
    assert status == 401
    assert body == {
        "errors": [{"message": "missing or invalid X-API-KEY", "extensions": {"code": "Unauthenticated"}}]
    }
    assert upstream.api_key not in str(body)


async def test_a_customer_id_is_url_decoded(upstream: Upstream) -> None:
    status, body = await upstream.admin("PUT", "customers/acme%20corp", {"plan": "plan-free"})
    assert status == 201, body
    entitlements = await upstream.entitlements("acme corp")
    assert entitlements["feature-seats"]["customerId"] == "acme corp"
