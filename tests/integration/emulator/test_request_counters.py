"""Request counters: every product request counted once on arrival, by endpoint and customer,
with the status it got; admin requests are not counted; a reset zeroes them."""

from __future__ import annotations

import asyncio
import time

from tests.integration.emulator import upstream as upstream_client

Upstream = upstream_client.Upstream


async def test_counts_by_endpoint_customer_and_status(upstream: Upstream) -> None:
    await upstream.edge("customer-pro")
    await upstream.edge("customer-pro", legacy=True)
    await upstream.edge("customer-free", api_key="wrong")
    await upstream.graphql("GetEntitlementsState", {"query": {"customerId": "customer-free"}})
    await upstream.report_usage(customerId="customer-free", featureId="feature-api-calls", value=1)
    usages = [
        {"customerId": "customer-free", "featureId": "feature-api-calls", "value": 1},
        {"customerId": "customer-pro", "featureId": "feature-api-calls", "value": 1},
        {"customerId": "customer-pro", "featureId": "feature-api-calls", "value": 1},
    ]
    await upstream.graphql("ReportUsageBulk", {"input": {"usages": usages}})
    events = [{"eventName": "e", "customerId": "customer-enterprise", "idempotencyKey": "k"}]
    await upstream.graphql("ReportEvent", {"input": {"usageEvents": events}})
    await upstream.graphql("Nonsense", {})
    await upstream.admin("GET", "faults")  # not counted

    counters = await upstream.counters()
    assert counters == {
        "total": 8,
        "byEndpoint": {
            "edge:entitlements-state": 2,
            "edge:entitlements": 1,
            "graphql:GetEntitlementsState": 1,
            "graphql:ReportUsage": 1,
            "graphql:ReportUsageBulk": 1,
            "graphql:ReportEvent": 1,
            "graphql:unknown": 1,
        },
        "byCustomer": {"customer-pro": 3, "customer-free": 4, "customer-enterprise": 1},
        "byEndpointAndCustomer": {
            "edge:entitlements-state": {"customer-pro": 1, "customer-free": 1},
            "edge:entitlements": {"customer-pro": 1},
            "graphql:GetEntitlementsState": {"customer-free": 1},
            "graphql:ReportUsage": {"customer-free": 1},
            "graphql:ReportUsageBulk": {"customer-free": 1, "customer-pro": 1},
            "graphql:ReportEvent": {"customer-enterprise": 1},
            "graphql:unknown": {},
        },
        "byStatus": {"200": 6, "400": 1, "401": 1},
    }


async def test_concurrent_requests_are_each_counted_exactly_once(upstream: Upstream) -> None:
    results = await asyncio.gather(*(upstream.edge("customer-enterprise") for _ in range(100)))
    assert {status for status, _ in results} == {200}
    counters = await upstream.counters()
    assert counters["byEndpointAndCustomer"] == {"edge:entitlements-state": {"customer-enterprise": 100}}
    assert counters["total"] == 100


async def test_reset_zeroes_the_counters(upstream: Upstream) -> None:
    await upstream.edge("customer-pro")
    assert (await upstream.counters())["total"] == 1
    status, body = await upstream.admin("POST", "requests/reset")
    assert status == 200
    assert body["total"] == 0
    assert await upstream.counters() == {
        "total": 0,
        "byEndpoint": {},
        "byCustomer": {},
        "byEndpointAndCustomer": {},
        "byStatus": {},
    }


async def test_arrival_times_by_endpoint_since_a_moment(upstream: Upstream) -> None:
    began = time.time()
    await upstream.edge("customer-pro")
    await upstream.report_usage(customerId="customer-free", featureId="feature-api-calls", value=1)
    await upstream.edge("customer-free")
    ended = time.time()
    status, body = await upstream.admin("GET", "requests/arrivals")
    assert status == 200
    assert body["forgotten"] == 0
    assert len(body["arrivals"]) == 3
    assert body["arrivals"] == sorted(body["arrivals"])
    assert began <= body["arrivals"][0], "the wall clock, as ours"
    assert body["arrivals"][-1] <= ended
    _, edge = await upstream.admin("GET", "requests/arrivals?endpoint=edge:entitlements-state")
    assert edge["arrivals"] == [body["arrivals"][0], body["arrivals"][2]]
    since = body["arrivals"][1]
    _, later = await upstream.admin(
        "GET", f"requests/arrivals?endpoint=edge:entitlements-state&since={since}"
    )
    assert later["arrivals"] == [body["arrivals"][2]]
    status, refused = await upstream.admin("GET", "requests/arrivals?since=yesterday")
    assert (status, refused) == (
        400,
        {"error": 'since: expected a number of seconds since the epoch, got "yesterday"'},
    )
    await upstream.admin("POST", "requests/reset")
    _, empty = await upstream.admin("GET", "requests/arrivals")
    assert empty == {"arrivals": [], "forgotten": 0}
