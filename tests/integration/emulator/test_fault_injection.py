"""Fault knobs over HTTP: an outage answers 503, an error rate of 1 answers 500, latency is
waited before answering; admin endpoints are never faulted; bad settings are a 400."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.integration.emulator import upstream as upstream_client

Upstream = upstream_client.Upstream


async def put_faults(upstream: Upstream, **settings: object) -> dict[str, object]:
    status, body = await upstream.admin("PUT", "faults", settings)
    assert status == 200, body
    return dict(body)


async def test_an_outage_answers_503_on_every_product_endpoint(upstream: Upstream) -> None:
    assert (await put_faults(upstream, outage=True))["outage"] is True
    status, body = await upstream.edge("customer-pro")
    assert status == 503
    assert body["errors"][0]["extensions"]["code"] == "ServiceUnavailable"
    status, _ = await upstream.edge("customer-pro", legacy=True)
    assert status == 503
    status, _ = await upstream.report_usage(
        customerId="customer-free", featureId="feature-api-calls", value=1
    )
    assert status == 503
    status, health = await upstream.admin("GET", "healthz")  # admin endpoints are never faulted
    assert (status, health) == (200, {"status": "UP"})
    _, usage = await upstream.admin("GET", "usage/customer-free")
    assert usage["usage"]["feature-api-calls"] == 250  # the refused report was not applied
    assert (await upstream.counters())["byStatus"] == {"503": 3}

    await put_faults(upstream, outage=False)
    status, _ = await upstream.edge("customer-pro")
    assert status == 200


async def test_an_error_rate_of_one_answers_500(upstream: Upstream) -> None:
    await put_faults(upstream, errorRate=1.0)
    for _ in range(5):
        status, body = await upstream.edge("customer-pro")
        assert status == 500
    assert body["errors"][0]["extensions"]["code"] == "UnexpectedError"
    status, _ = await upstream.graphql("GetEntitlementsState", {"query": {"customerId": "customer-pro"}})
    assert status == 500


async def test_a_seeded_error_rate_fails_the_same_requests_each_run(upstream: Upstream) -> None:
    async def statuses() -> list[int]:
        await put_faults(upstream, errorRate=0.5, seed=42)
        return [(await upstream.edge("customer-free"))[0] for _ in range(40)]

    first = await statuses()
    assert set(first) == {200, 500}
    assert await statuses() == first


async def test_latency_is_waited_before_answering(upstream: Upstream) -> None:
    await put_faults(upstream, latencyMs=100)
    started = time.monotonic()
    status, _ = await upstream.edge("customer-pro")
    assert status == 200
    assert time.monotonic() - started >= 0.1
    started = time.monotonic()
    results = await asyncio.gather(*(upstream.edge("customer-pro") for _ in range(10)))
    elapsed = time.monotonic() - started
    assert {status for status, _ in results} == {200}
    assert 0.1 <= elapsed < 0.9  # waited concurrently, not one after another


async def test_admin_endpoints_do_not_wait(upstream: Upstream) -> None:
    await put_faults(upstream, latencyMs=2000)
    started = time.monotonic()
    status, _ = await upstream.admin("GET", "requests")
    assert status == 200
    assert time.monotonic() - started < 1.5


async def test_the_faults_read_back_and_reset_restores_the_start_settings(upstream: Upstream) -> None:
    await put_faults(upstream, latencyMs=5, jitterMs=2, errorRate=0.1)
    status, body = await upstream.admin("GET", "faults")
    assert (status, body) == (
        200,
        {
            "latencyMs": 5.0,
            "jitterMs": 2.0,
            "errorRate": 0.1,
            "outage": False,
            "writeOutage": False,
            "legacyOnly": False,
        },
    )
    await upstream.admin("POST", "reset")
    _, body = await upstream.admin("GET", "faults")
    assert body == {
        "latencyMs": 0.0,
        "jitterMs": 0.0,
        "errorRate": 0.0,
        "outage": False,
        "writeOutage": False,
        "legacyOnly": False,
    }


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"errorRate": 2}, "errorRate: must be between 0 and 1, got 2.0"),
        ({"latencyMs": "slow"}, "latencyMs: must be a number, got 'slow'"),
        ({"outage": 1}, "outage: must be true or false, got 1"),
        ({"writeOutage": "yes"}, "writeOutage: must be true or false, got 'yes'"),
        ({"seed": "x"}, 'seed: must be an integer, got "x"'),
        (
            {"latency": 5},
            "latency: unknown field (expected latencyMs, jitterMs, errorRate, outage, writeOutage, legacyOnly"
            " or seed)",
        ),
    ],
)
async def test_bad_settings_are_a_400_naming_the_field(
    upstream: Upstream, settings: dict[str, object], message: str
) -> None:
    status, body = await upstream.admin("PUT", "faults", settings)
    assert (status, body) == (400, {"error": message})
    _, current = await upstream.admin("GET", "faults")
    assert current["errorRate"] == 0.0  # nothing changed


async def test_a_write_outage_refuses_writes_and_serves_reads(upstream: Upstream) -> None:
    await put_faults(upstream, writeOutage=True)
    status, _ = await upstream.report_usage(
        customerId="customer-free", featureId="feature-api-calls", value=1
    )
    assert status == 503
    status, body = await upstream.edge("customer-free")
    assert status == 200
    assert body["data"]["entitlementsState"]["accessDeniedReason"] is None
    await put_faults(upstream, writeOutage=False)
    status, _ = await upstream.report_usage(
        customerId="customer-free", featureId="feature-api-calls", value=1
    )
    assert status == 200
