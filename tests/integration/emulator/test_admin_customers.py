"""Admin customer endpoints: create, replace (reflected at once by the Edge API), delete,
read usage; invalid bodies are a 400 naming the field."""

from __future__ import annotations

import pytest

from tests.integration.emulator import upstream as upstream_client

Upstream = upstream_client.Upstream


async def test_replacing_a_customer_is_reflected_by_the_edge_api(upstream: Upstream) -> None:
    before = await upstream.entitlements("customer-free")
    assert before["feature-sso"]["isGranted"] is False
    body = {
        "plan": "plan-pro",
        "overrides": {"feature-api-calls": {"usageLimit": 500000}},
        "usage": {"feature-api-calls": 12},
    }
    status, answer = await upstream.admin("PUT", "customers/customer-free", body)
    assert status == 200, answer
    assert answer["entitlementsState"]["accessDeniedReason"] is None
    after = await upstream.entitlements("customer-free")
    assert after["feature-sso"]["isGranted"] is True
    calls = after["feature-api-calls"]
    assert (calls["usageLimit"], calls["hasSoftLimit"], calls["currentUsage"]) == (500000, True, 12)
    assert calls["entitlementUpdatedAt"] >= before["feature-api-calls"]["entitlementUpdatedAt"]
    _, usage = await upstream.admin("GET", "usage/customer-free")
    assert usage == {"customerId": "customer-free", "usage": {"feature-api-calls": 12}, "resources": {}}


async def test_creating_archiving_and_deleting_a_customer(upstream: Upstream) -> None:
    status, body = await upstream.edge("customer-new")
    assert body["data"]["entitlementsState"]["accessDeniedReason"] == "CustomerNotFound"
    status, _ = await upstream.admin(
        "PUT",
        "customers/customer-new",
        {"plan": "plan-free", "resources": [{"id": "ws", "plan": "plan-pro"}]},
    )
    assert status == 201
    assert (await upstream.entitlements("customer-new", resource_id="ws"))["feature-seats"][
        "usageLimit"
    ] == 10

    status, _ = await upstream.admin("PUT", "customers/customer-new", {"plan": "plan-free", "archived": True})
    assert status == 200
    _, body = await upstream.edge("customer-new")
    assert body["data"]["entitlementsState"]["accessDeniedReason"] == "CustomerIsArchived"

    status, body = await upstream.admin("DELETE", "customers/customer-new")
    assert (status, body) == (204, None)
    _, body = await upstream.edge("customer-new")
    assert body["data"]["entitlementsState"]["accessDeniedReason"] == "CustomerNotFound"
    status, body = await upstream.admin("DELETE", "customers/customer-new")
    assert (status, body) == (404, {"error": "customer 'customer-new' was not found"})


async def test_replacing_a_customer_discards_its_reported_usage(upstream: Upstream) -> None:
    await upstream.report_usage(customerId="customer-pro", featureId="feature-seats", value=1)
    assert (await upstream.entitlements("customer-pro"))["feature-seats"]["currentUsage"] == 8
    await upstream.admin("PUT", "customers/customer-pro", {"plan": "plan-pro"})
    assert (await upstream.entitlements("customer-pro"))["feature-seats"]["currentUsage"] == 0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"plan": "gold"}, "plan: unknown plan 'gold'"),
        (
            {"plan": "plan-free", "usage": {"feature-sso": 1}},
            "usage.feature-sso: feature 'feature-sso' is boolean, not metered",
        ),
        (
            {"plan": "plan-free", "overrides": {"feature-seats": {"usageLimit": "lots"}}},
            "overrides.feature-seats.usageLimit: expected a number, got the string 'lots'",
        ),
        (
            {"plan": "plan-free", "tier": 1},
            "tier: unknown field (expected one of: archived, creditUsage, credits, id, overrides, plan,"
            " resources, usage)",
        ),
        ({"id": "someone-else"}, "id: must be 'customer-free', the customer being replaced"),
    ],
)
async def test_an_invalid_customer_is_a_400_naming_the_field(
    upstream: Upstream, body: dict[str, object], message: str
) -> None:
    status, answer = await upstream.admin("PUT", "customers/customer-free", body)
    assert (status, answer) == (400, {"error": message})
    assert (await upstream.entitlements("customer-free"))["feature-seats"]["usageLimit"] == 2  # unchanged


async def test_a_body_that_is_not_json_is_a_400(upstream: Upstream) -> None:
    async with upstream.session.put(
        f"{upstream.base_url}/_emulator/customers/x", data=b"plan: pro"
    ) as response:
        assert response.status == 400
        assert await response.json() == {"error": "body: not valid JSON"}


async def test_usage_of_an_unknown_customer_is_a_404(upstream: Upstream) -> None:
    status, body = await upstream.admin("GET", "usage/customer-ghost")
    assert (status, body) == (404, {"error": "customer 'customer-ghost' was not found"})
