"""Requests ``/graphql`` does not serve: unknown or missing operations and malformed bodies."""

from __future__ import annotations

from tests.integration.emulator import upstream as upstream_client

Upstream = upstream_client.Upstream


async def test_an_unknown_operation_is_refused_naming_what_is_served(upstream: Upstream) -> None:
    status, body = await upstream.graphql("ProvisionCustomer", {"input": {}})
    assert status == 400
    error = body["errors"][0]
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert error["message"] == (
        "operation 'ProvisionCustomer' is not served by the emulator "
        "(it serves GetEntitlementsState, GetEntitlements, GetEntitlement, GetSdkConfiguration, "
        "ReportUsage, ReportUsageBulk, ReportEvent)"
    )


async def test_a_request_without_an_operation_name_is_refused(upstream: Upstream) -> None:
    status, body = await upstream.graphql(None, {}, name_in="nowhere")
    assert status == 400
    assert body["errors"][0]["message"].startswith("no operation name")


async def test_a_body_that_is_not_json_is_a_bad_request(upstream: Upstream) -> None:
    async with upstream.session.post(
        f"{upstream.base_url}/graphql", data=b"{not json", headers={"X-API-KEY": upstream.api_key}
    ) as response:
        assert response.status == 400
        body = await response.json()
    assert body["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_variables_must_be_an_object(upstream: Upstream) -> None:
    async with upstream.session.post(
        f"{upstream.base_url}/graphql",
        json={"operationName": "ReportUsage", "variables": [1]},
        headers={"X-API-KEY": upstream.api_key},
    ) as response:
        assert response.status == 400
        assert (await response.json())["errors"][0]["message"] == "variables: expected a JSON object"
