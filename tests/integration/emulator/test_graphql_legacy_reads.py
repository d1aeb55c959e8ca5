"""The legacy GraphQL reads of Stigg's older SDKs: ``GetEntitlements`` (``entitlements:
cachedEntitlements(query:)``) answers the state's legacy list, empty for a customer without a
state; ``GetEntitlement`` one feature, with ``options.requestedUsage`` applied."""

from __future__ import annotations

from tests.integration.emulator import upstream as upstream_client

Upstream = upstream_client.Upstream


async def test_get_entitlements_answers_the_legacy_list(upstream: Upstream) -> None:
    query = {"customerId": "customer-enterprise", "resourceId": "workspace-sandbox"}
    status, body = await upstream.graphql("GetEntitlements", {"query": query})
    assert status == 200
    _, edge = await upstream.edge("customer-enterprise", resource_id="workspace-sandbox")
    assert body == {"data": {"entitlements": edge["data"]["entitlementsState"]["entitlements"]}}
    assert {e["feature"]["refId"]: e["usageLimit"] for e in body["data"]["entitlements"]}[
        "feature-seats"
    ] == 2
    status, body = await upstream.graphql("GetEntitlements", {"query": {"customerId": "customer-nobody"}})
    assert (status, body) == (200, {"data": {"entitlements": []}})
    counters = await upstream.counters()
    assert counters["byEndpointAndCustomer"]["graphql:GetEntitlements"] == {
        "customer-enterprise": 1,
        "customer-nobody": 1,
    }


async def test_get_entitlement_applies_the_requested_usage(upstream: Upstream) -> None:
    query = {"customerId": "customer-pro", "featureId": "feature-seats", "options": {"requestedUsage": 9}}
    status, body = await upstream.graphql("GetEntitlement", {"query": query})
    assert status == 200
    seats = body["data"]["entitlement"]
    assert (seats["isGranted"], seats["accessDeniedReason"], seats["requestedUsage"]) == (
        False,
        "RequestedUsageExceedingLimit",
        9,
    )  # 7 of 15 used
    query["options"] = {"requestedUsage": 8}
    _, body = await upstream.graphql("GetEntitlement", {"query": query})
    assert body["data"]["entitlement"]["isGranted"] is True
    soft = {
        "customerId": "customer-pro",
        "featureId": "feature-api-calls",
        "options": {"requestedUsage": 5000},
    }
    _, body = await upstream.graphql("GetEntitlement", {"query": soft})
    assert body["data"]["entitlement"]["isGranted"] is True  # a soft limit never denies


async def test_get_entitlement_for_a_customer_without_a_state(upstream: Upstream) -> None:
    query = {"customerId": "customer-archived", "featureId": "feature-sso"}
    _, body = await upstream.graphql("GetEntitlement", {"query": query})
    assert (body["data"]["entitlement"]["isGranted"], body["data"]["entitlement"]["accessDeniedReason"]) == (
        False,
        "CustomerIsArchived",
    )


async def test_bad_options_are_a_400_naming_the_field(upstream: Upstream) -> None:
    query = {"customerId": "customer-pro", "featureId": "feature-seats", "options": {"requestedUsage": "x"}}
    status, body = await upstream.graphql("GetEntitlement", {"query": query})
    assert status == 400
    assert (
        body["errors"][0]["message"]
        == 'variables.query.options.requestedUsage: expected a finite number, got "x"'
    )
