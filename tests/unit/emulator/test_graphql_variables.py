"""A GraphQL request without HTTP: the operation it names, the customers it concerns, and its
variables coerced as GraphQL would, each error naming the variable's path."""

from __future__ import annotations

import datetime
import json

import pytest

from stigg_emulator import graphql, state


def call(body: object, header: str | None = None) -> graphql.Call:
    parsed = graphql.parse_request(json.dumps(body).encode(), header)
    assert isinstance(parsed, graphql.Call)
    return parsed


def test_the_operation_name_comes_from_the_body_then_the_header_then_the_document() -> None:
    document = "query GetEntitlementsState($query: FetchEntitlementsQuery!) { x }"
    assert call({"operationName": "ReportUsage", "query": document}, "ReportEvent").operation == "ReportUsage"
    assert call({"operationName": "", "query": document}, "ReportEvent").operation == "ReportEvent"
    assert call({"query": document}).operation == "GetEntitlementsState"
    assert call({"query": "\n  mutation ReportUsageBulk($input: X!) { y }"}).operation == "ReportUsageBulk"
    unnamed = call({"query": "{ y }"})
    assert (unnamed.operation, unnamed.variables) == (None, {})


@pytest.mark.parametrize(
    ("body", "message", "code"),
    [
        (b"{not json", "the request body is not valid JSON", "BAD_REQUEST"),
        (b"[]", "the request body must be a JSON object (batches are not served)", "BAD_REQUEST"),
        (b'{"variables": []}', "variables: expected a JSON object", "BadUserInput"),
    ],
)
def test_malformed_bodies_are_input_errors(body: bytes, message: str, code: str) -> None:
    parsed = graphql.parse_request(body, None)
    assert isinstance(parsed, graphql.InputError)
    assert (parsed.message, parsed.code) == (message, code)


def test_the_customers_a_request_concerns_are_read_leniently() -> None:
    bulk = graphql.Call(
        "ReportUsageBulk",
        {"input": {"usages": [{"customerId": "a"}, {"customerId": 3}, "x", {"customerId": "b"}]}},
    )
    assert list(graphql.customers_named(bulk)) == ["a", "b"]
    events = graphql.Call(
        "ReportEvent", {"input": {"usageEvents": [{"customerId": "a"}], "events": [{"customerId": "c"}]}}
    )
    assert list(graphql.customers_named(events)) == ["a", "c"]
    assert list(
        graphql.customers_named(graphql.Call("GetEntitlementsState", {"query": {"customerId": "d"}}))
    ) == ["d"]
    assert list(graphql.customers_named(graphql.Call("ReportUsage", {"input": "nonsense"}))) == []
    assert list(graphql.customers_named(graphql.Call(None, {"input": {"customerId": "e"}}))) == []


def test_a_usage_report_is_coerced_with_its_defaults() -> None:
    report = graphql.usage_report(
        {"customerId": "c", "featureId": "f", "value": 3, "createdAt": "2026-03-14T15:00:00"},
        "variables.input",
    )
    assert report == state.UsageReport(
        customer_id="c",
        feature_id="f",
        value=3.0,
        update_behavior=state.UpdateBehavior.DELTA,
        created_at=datetime.datetime(2026, 3, 14, 15, tzinfo=datetime.UTC),
    )


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"featureId": "f", "value": 1}, "p.customerId: expected a non-empty string, got null"),
        ({"customerId": "c", "featureId": "f", "value": True}, "p.value: expected a finite number, got true"),
        (
            {"customerId": "c", "featureId": "f", "value": 1, "updateBehavior": "ADD"},
            'p.updateBehavior: expected DELTA or SET, got "ADD"',
        ),
        ({"customerId": "c", "featureId": "f", "value": 1, "units": 2}, "p.units: unknown field"),
        (
            {"customerId": "c", "featureId": "f", "value": 1, "dimensions": {"d": [1]}},
            "p.dimensions.d: expected a string, number or boolean, got [1]",
        ),
        (
            {"customerId": "c", "featureId": "f", "value": 1, "createdAt": "yesterday"},
            'p.createdAt: expected an ISO-8601 date-time, got "yesterday"',
        ),
        ("x" * 50, 'p: expected an object, got "' + "x" * 36 + "..."),
    ],
)
def test_bad_usage_variables_name_their_path(given: object, message: str) -> None:
    with pytest.raises(graphql.InputError) as raised:
        graphql.usage_report(given, "p")
    assert raised.value.message == message
    assert raised.value.code == "BadUserInput"


def test_a_usage_event_needs_its_idempotency_key() -> None:
    with pytest.raises(graphql.InputError, match=r"^p\.idempotencyKey: expected a non-empty string"):
        graphql.usage_event({"eventName": "e", "customerId": "c"}, "p")
