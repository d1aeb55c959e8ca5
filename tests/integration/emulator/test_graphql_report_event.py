"""``ReportEvent`` stores raw events once per idempotency key, for tests to read back, and
answers Stigg's result type (a nullable String: ``null``)."""

from __future__ import annotations

import pytest

from tests.integration.emulator import upstream as upstream_client

Upstream = upstream_client.Upstream


@pytest.mark.parametrize("field", ["usageEvents", "events"])
async def test_events_are_stored_once_per_idempotency_key(upstream: Upstream, field: str) -> None:
    events = [
        {
            "eventName": "api_call",
            "customerId": "customer-pro",
            "idempotencyKey": "e-1",
            "dimensions": {"endpoint": "/v1/things", "bytes": 512},
            "timestamp": "2026-02-03T04:05:06.789Z",
        },
        {
            "eventName": "api_call",
            "customerId": "customer-free",
            "idempotencyKey": "e-2",
            "resourceId": "r-9",
        },
        {"eventName": "api_call", "customerId": "customer-pro", "idempotencyKey": "e-1"},  # a retry
    ]
    status, body = await upstream.graphql("ReportEvent", {"input": {field: events}})
    assert (status, body) == (200, {"data": {"reportEvent": None}})  # a nullable String, as Stigg's schema
    status, stored = await upstream.admin("GET", "events")
    assert status == 200
    assert stored["events"] == [
        {
            "eventName": "api_call",
            "customerId": "customer-pro",
            "idempotencyKey": "e-1",
            "resourceId": None,
            "dimensions": {"endpoint": "/v1/things", "bytes": 512},
            "timestamp": "2026-02-03T04:05:06.789Z",
        },
        {
            "eventName": "api_call",
            "customerId": "customer-free",
            "idempotencyKey": "e-2",
            "resourceId": "r-9",
            "dimensions": None,
            "timestamp": None,
        },
    ]


async def test_an_event_without_an_idempotency_key_is_refused_and_nothing_is_stored(
    upstream: Upstream,
) -> None:
    events = [
        {"eventName": "api_call", "customerId": "customer-pro", "idempotencyKey": "e-3"},
        {"eventName": "api_call", "customerId": "customer-pro"},
    ]
    status, body = await upstream.graphql("ReportEvent", {"input": {"usageEvents": events}})
    assert status == 400
    assert body["errors"][0]["message"] == (
        "variables.input.usageEvents[1].idempotencyKey: expected a non-empty string, got null"
    )
    _, stored = await upstream.admin("GET", "events")
    assert stored == {"events": []}
