"""The Edge API's legacy path, ``/v1/c/{id}/entitlements.json``, as Stigg's Node SDK 3.x and the
Python API client read it: ``{"data":{"entitlements":[...]}}``, the legacy list of the state
(empty for a customer without one), or with ``featureId`` one ``{"data":{"entitlement":...}}``
with the requested usage applied."""

from __future__ import annotations

import pytest

from tests.integration.emulator import upstream as upstream_client

Upstream = upstream_client.Upstream


async def test_the_legacy_path_answers_the_legacy_list_of_the_state(upstream: Upstream) -> None:
    _, current = await upstream.edge("customer-enterprise", resource_id="workspace-eu")
    status, legacy = await upstream.edge("customer-enterprise", resource_id="workspace-eu", legacy=True)
    assert status == 200
    assert legacy == {"data": {"entitlements": current["data"]["entitlementsState"]["entitlements"]}}
    assert {e["feature"]["refId"] for e in legacy["data"]["entitlements"]} == {
        "feature-sso",
        "feature-max-projects",
        "feature-seats",
        "feature-api-calls",
        "feature-data-region",
    }


@pytest.mark.parametrize("customer_id", ["customer-nobody", "customer-archived", "customer-unsubscribed"])
async def test_a_customer_without_a_state_gets_an_empty_list(upstream: Upstream, customer_id: str) -> None:
    status, body = await upstream.edge(customer_id, legacy=True)
    assert (status, body) == (200, {"data": {"entitlements": []}})


async def test_one_feature_with_a_requested_usage(upstream: Upstream) -> None:
    path = "/v1/c/customer-free/entitlements.json"
    headers = {"X-API-KEY": upstream.api_key}
    async with upstream.session.get(
        upstream.base_url + path,
        params={"featureId": "feature-api-calls", "requestedUsage": "800"},
        headers=headers,
    ) as response:
        assert response.status == 200
        over = (await response.json())["data"]["entitlement"]
    assert (over["isGranted"], over["accessDeniedReason"], over["requestedUsage"]) == (
        False,
        "RequestedUsageExceedingLimit",
        800,
    )  # 250 used of 1000
    async with upstream.session.get(
        upstream.base_url + path,
        params={"featureId": "feature-api-calls", "requestedUsage": "750"},
        headers=headers,
    ) as response:
        fits = (await response.json())["data"]["entitlement"]
    assert (fits["isGranted"], fits["currentUsage"], fits["usageLimit"]) == (True, 250, 1000)
    async with upstream.session.get(
        upstream.base_url + path, params={"featureId": "feature-teleport"}, headers=headers
    ) as response:
        unknown = (await response.json())["data"]["entitlement"]
    assert (unknown["isGranted"], unknown["accessDeniedReason"], unknown["feature"]) == (
        False,
        "FeatureNotFound",
        None,
    )


@pytest.mark.parametrize("given", ["lots", "nan", "inf"])
async def test_a_requested_usage_that_is_not_a_finite_number_is_a_400(upstream: Upstream, given: str) -> None:
    params = {"featureId": "feature-api-calls", "requestedUsage": given}
    async with upstream.session.get(
        f"{upstream.base_url}/v1/c/customer-free/entitlements.json",
        params=params,
        headers={"X-API-KEY": upstream.api_key},
    ) as response:
        assert response.status == 400
        body = await response.json()
    assert body["errors"][0]["message"] == f'requestedUsage: expected a finite number, got "{given}"'
