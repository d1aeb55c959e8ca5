"""``ReportUsageBulk`` applies a list of reports in order, or none of them if one is refused."""

from __future__ import annotations

from tests.integration.emulator import upstream as upstream_client

Upstream = upstream_client.Upstream


async def test_applies_every_report_in_order(upstream: Upstream) -> None:
    usages = [
        {"customerId": "customer-free", "featureId": "feature-api-calls", "value": 10},
        {"customerId": "customer-free", "featureId": "feature-api-calls", "value": 5},
        {"customerId": "customer-pro", "featureId": "feature-seats", "value": 9, "updateBehavior": "SET"},
        {
            "customerId": "customer-free",
            "featureId": "feature-api-calls",
            "value": 10,
            "idempotencyKey": "b-1",
        },
        {
            "customerId": "customer-free",
            "featureId": "feature-api-calls",
            "value": 10,
            "idempotencyKey": "b-1",
        },
    ]
    status, body = await upstream.graphql("ReportUsageBulk", {"input": {"usages": usages}})
    assert status == 200, body
    results = body["data"]["reportUsageBulk"]
    assert [result["currentUsage"] for result in results] == [260, 265, 9, 275, 275]
    assert results[3] == results[4]  # the repeated key answered the first result
    assert (await upstream.entitlements("customer-free"))["feature-api-calls"]["currentUsage"] == 275
    assert (await upstream.entitlements("customer-pro"))["feature-seats"]["currentUsage"] == 9


async def test_one_refused_report_leaves_all_usage_unchanged(upstream: Upstream) -> None:
    usages = [
        {"customerId": "customer-free", "featureId": "feature-api-calls", "value": 10},
        {"customerId": "customer-ghost", "featureId": "feature-api-calls", "value": 10},
    ]
    status, body = await upstream.graphql("ReportUsageBulk", {"input": {"usages": usages}})
    assert status == 200
    assert body["errors"][0]["extensions"]["code"] == "CustomerNotFound"
    assert (await upstream.entitlements("customer-free"))["feature-api-calls"]["currentUsage"] == 250


async def test_a_bad_entry_is_named_by_its_index(upstream: Upstream) -> None:
    usages = [
        {"customerId": "customer-free", "featureId": "feature-api-calls", "value": 1},
        {"customerId": "customer-free", "featureId": "feature-api-calls"},
    ]
    status, body = await upstream.graphql("ReportUsageBulk", {"input": {"usages": usages}})
    assert status == 400
    assert (
        body["errors"][0]["message"] == "variables.input.usages[1].value: expected a finite number, got null"
    )
