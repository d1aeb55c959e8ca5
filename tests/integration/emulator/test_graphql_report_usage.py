"""``ReportUsage``: DELTA adds, SET replaces, an idempotency key is counted once, and what
upstream refuses comes back as GraphQL errors with Stigg's codes."""

from __future__ import annotations

import pytest

from tests.integration.emulator import upstream as upstream_client

Upstream = upstream_client.Upstream


async def test_delta_adds_to_the_current_usage(upstream: Upstream) -> None:
    status, body = await upstream.report_usage(
        customerId="customer-free", featureId="feature-api-calls", value=5, updateBehavior="DELTA"
    )
    assert status == 200, body
    result = body["data"]["reportUsage"]
    assert result["currentUsage"] == 255
    assert (result["customerId"], result["featureId"], result["resourceId"]) == (
        "customer-free",
        "feature-api-calls",
        None,
    )
    assert result["id"]
    assert result["nextResetDate"] == result["usagePeriodEnd"]
    assert result["usagePeriodStart"].endswith("-01T00:00:00.000Z")
    entitlements = await upstream.entitlements("customer-free")
    assert entitlements["feature-api-calls"]["currentUsage"] == 255
    assert entitlements["feature-api-calls"]["usageUpdatedAt"] is not None


async def test_update_behavior_defaults_to_delta(upstream: Upstream) -> None:
    _, body = await upstream.report_usage(customerId="customer-free", featureId="feature-api-calls", value=1)
    assert body["data"]["reportUsage"]["currentUsage"] == 251


async def test_set_replaces_the_current_usage(upstream: Upstream) -> None:
    status, body = await upstream.report_usage(
        customerId="customer-pro", featureId="feature-seats", value=3, updateBehavior="SET"
    )
    assert status == 200, body
    assert body["data"]["reportUsage"]["currentUsage"] == 3
    assert body["data"]["reportUsage"]["nextResetDate"] is None  # a gauge does not reset
    assert (await upstream.entitlements("customer-pro"))["feature-seats"]["currentUsage"] == 3


async def test_an_idempotency_key_reported_twice_is_counted_once(upstream: Upstream) -> None:
    fields = {
        "customerId": "customer-free",
        "featureId": "feature-api-calls",
        "value": 10,
        "idempotencyKey": "report-7f1c",
    }
    _, first = await upstream.report_usage(**fields)
    _, second = await upstream.report_usage(**fields)
    assert second == first
    assert first["data"]["reportUsage"]["currentUsage"] == 260
    _, usage = await upstream.admin("GET", "usage/customer-free")
    assert usage["usage"]["feature-api-calls"] == 260
    _, third = await upstream.report_usage(**(fields | {"idempotencyKey": "report-7f1d"}))
    assert third["data"]["reportUsage"]["currentUsage"] == 270


async def test_usage_of_a_resource(upstream: Upstream) -> None:
    _, body = await upstream.report_usage(
        customerId="customer-enterprise",
        featureId="feature-seats",
        value=1,
        resourceId="workspace-eu",
        dimensions={"region": "eu", "sso": True},
        createdAt="2026-01-05T10:00:00Z",
    )
    result = body["data"]["reportUsage"]
    assert (result["resourceId"], result["currentUsage"]) == ("workspace-eu", 5)
    assert result["timestamp"] == "2026-01-05T10:00:00.000Z"
    entitlements = await upstream.entitlements("customer-enterprise", resource_id="workspace-eu")
    assert entitlements["feature-seats"]["currentUsage"] == 5
    assert (await upstream.entitlements("customer-enterprise"))["feature-seats"]["currentUsage"] == 120


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"customerId": "customer-ghost"}, "CustomerNotFound"),
        ({"featureId": "feature-ghost"}, "FeatureNotFound"),
        ({"featureId": "feature-sso"}, "MeteringNotAvailableForFeatureType"),
        ({"resourceId": "workspace-ghost"}, "CustomerResourceNotFound"),
    ],
)
async def test_refusals_are_graphql_errors_with_stiggs_codes(
    upstream: Upstream, fields: dict[str, object], code: str
) -> None:
    base = {"customerId": "customer-free", "featureId": "feature-api-calls", "value": 1}
    status, body = await upstream.report_usage(**(base | fields))
    assert status == 200
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == code
    assert (await upstream.entitlements("customer-free"))["feature-api-calls"]["currentUsage"] == 250


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"value": "5"}, 'variables.input.value: expected a finite number, got "5"'),
        ({"value": True}, "variables.input.value: expected a finite number, got true"),
        ({"updateBehavior": "ADD"}, 'variables.input.updateBehavior: expected DELTA or SET, got "ADD"'),
        ({"featureId": ""}, 'variables.input.featureId: expected a non-empty string, got ""'),
        (
            {"createdAt": "yesterday"},
            'variables.input.createdAt: expected an ISO-8601 date-time, got "yesterday"',
        ),
        (
            {"dimensions": {"a": [1]}},
            "variables.input.dimensions.a: expected a string, number or boolean, got [1]",
        ),
        ({"amount": 1}, "variables.input.amount: unknown field"),
    ],
)
async def test_bad_variables_are_a_400_naming_the_field(
    upstream: Upstream, fields: dict[str, object], message: str
) -> None:
    base = {"customerId": "customer-free", "featureId": "feature-api-calls", "value": 1}
    status, body = await upstream.report_usage(**(base | fields))
    assert status == 400
    assert body == {"errors": [{"message": message, "extensions": {"code": "BadUserInput"}}]}


async def test_input_must_be_an_object(upstream: Upstream) -> None:
    status, body = await upstream.graphql("ReportUsage", {"input": [1]})
    assert status == 400
    assert body["errors"][0]["message"] == "variables.input: expected an object, got [1]"
