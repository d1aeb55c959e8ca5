"""The SDK configuration that Stigg's SDKs load at start-up (the Node SDK does not start
without it): on the Edge API, ``GET /v1/config/server-sdk-configuration.json``, and as GraphQL
``GetSdkConfiguration``, the same object, behind the API key, counted."""

from __future__ import annotations

from tests.integration.emulator import upstream as upstream_client

Upstream = upstream_client.Upstream
CONFIGURATION = {"sentryDsn": None, "isWidgetWatermarkEnabled": False, "showWatermark": False}


async def test_the_edge_and_graphql_answer_the_same_configuration(upstream: Upstream) -> None:
    url = f"{upstream.base_url}/v1/config/server-sdk-configuration.json"
    async with upstream.session.get(
        url, headers={"X-API-KEY": upstream.api_key, "X-API-VERSION": "1"}
    ) as response:
        assert response.status == 200
        edge = await response.json()
    assert edge == {"data": {"sdkConfiguration": CONFIGURATION}}
    status, body = await upstream.graphql("GetSdkConfiguration", {})
    assert (status, body) == (200, {"data": {"sdkConfiguration": CONFIGURATION}})
    counters = await upstream.counters()
    assert counters["byEndpoint"] == {"edge:server-sdk-configuration": 1, "graphql:GetSdkConfiguration": 1}


async def test_a_wrong_key_is_refused(upstream: Upstream) -> None:
    url = f"{upstream.base_url}/v1/config/server-sdk-configuration.json"
    async with upstream.session.get(url, headers={"X-API-KEY": "wrong"}) as response:
        assert response.status == 401
