"""``GetEntitlementsState`` over ``/graphql`` answers what the Edge API answers; the operation
is found by the body's operationName, the x-graphql-operation-name header, or the document."""

from __future__ import annotations

import pytest

from tests.integration.emulator import upstream as upstream_client

Upstream = upstream_client.Upstream


@pytest.mark.parametrize("name_in", ["body", "header", "document"])
async def test_matches_the_edge_api(upstream: Upstream, name_in: str) -> None:
    query = {"customerId": "customer-enterprise", "resourceId": "workspace-eu"}
    status, body = await upstream.graphql("GetEntitlementsState", {"query": query}, name_in=name_in)
    assert status == 200, body
    _, edge = await upstream.edge("customer-enterprise", resource_id="workspace-eu")
    assert body == edge
    assert len(body["data"]["entitlementsState"]["entitlements"]) == 5


async def test_an_unknown_customer_has_the_denial_reason(upstream: Upstream) -> None:
    status, body = await upstream.graphql("GetEntitlementsState", {"query": {"customerId": "ghost"}})
    assert status == 200
    assert body["data"]["entitlementsState"]["accessDeniedReason"] == "CustomerNotFound"


async def test_a_missing_customer_id_is_a_bad_user_input(upstream: Upstream) -> None:
    status, body = await upstream.graphql("GetEntitlementsState", {"query": {"resourceId": "r"}})
    assert status == 400
    assert body["errors"][0]["extensions"]["code"] == "BadUserInput"
    assert body["errors"][0]["message"] == "variables.query.customerId: expected a non-empty string, got null"


async def test_the_api_key_is_required(upstream: Upstream) -> None:
    status, body = await upstream.graphql(
        "GetEntitlementsState", {"query": {"customerId": "customer-pro"}}, api_key="nope"
    )
    assert status == 401
    assert body["errors"][0]["extensions"]["code"] == "Unauthenticated"
