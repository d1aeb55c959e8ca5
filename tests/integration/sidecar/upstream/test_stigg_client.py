"""The Stigg upstream client against the emulator process: Edge and GraphQL reads agree,
failures are retried a bounded number of times, the breaker then stops calling, a refused API
key is reported without the key."""

from __future__ import annotations

import pytest

from stigg_emulator import launcher
from stigg_sidecar import metrics, model
from stigg_sidecar.upstream import base, breaker, stigg
from tests.integration.sidecar import conftest


def _client(emulator: launcher.RunningEmulator, **overrides: object) -> stigg.StiggUpstream:
    options: dict[str, object] = {
        "api_key": conftest.API_KEY,
        "api_url": emulator.base_url,
        "edge_enabled": True,
        "edge_api_url": emulator.base_url,
        "timeout": 2.0,
        "retries": 2,
        "circuit": breaker.Breaker(failures=2, reset_after=60),
        "sidecar_metrics": metrics.Metrics(),
        "backoff_base": 0.01,
        **overrides,
    }
    return stigg.StiggUpstream(**options)


async def test_edge_and_graphql_reads_agree(emulator: launcher.RunningEmulator) -> None:
    key = model.CustomerKey("customer-enterprise", "workspace-eu")
    edge, graphql = _client(emulator), _client(emulator, edge_enabled=False)
    try:
        from_edge = await edge.fetch(key)
        from_graphql = await graphql.fetch(key)
    finally:
        await edge.close()
        await graphql.close()
    assert from_edge == from_graphql
    assert from_edge.entitlements["feature-seats"].usage_limit == 10
    requests = await conftest.upstream_requests(emulator)
    assert set(requests["byEndpoint"]) == {"edge:entitlements-state", "graphql:GetEntitlementsState"}


async def test_bounded_retries_then_the_breaker_opens(emulator: launcher.RunningEmulator) -> None:
    await conftest.set_faults(emulator, errorRate=1.0)
    upstream = _client(emulator)
    try:
        for _ in range(2):
            with pytest.raises(base.UpstreamError, match="after 3 attempt"):
                await upstream.fetch(model.CustomerKey("customer-pro"))
        assert upstream.breaker.state is breaker.State.OPEN
        with pytest.raises(base.BreakerOpen):
            await upstream.fetch(model.CustomerKey("customer-pro"))
    finally:
        await upstream.close()
    requests = await conftest.upstream_requests(emulator)
    assert requests["total"] == 6, "2 failed fetches x 3 attempts, then none while the breaker is open"


async def test_refused_api_key(emulator: launcher.RunningEmulator) -> None:
    sidecar_metrics = metrics.Metrics()
    upstream = _client(emulator, api_key="sk-wrong-key-0000", sidecar_metrics=sidecar_metrics)
    try:
        with pytest.raises(base.UpstreamRejected) as raised:
            await upstream.fetch(model.CustomerKey("customer-pro"))
    finally:
        await upstream.close()
    assert raised.value.status == 401
    assert "sk-wrong-key-0000" not in str(raised.value)
    assert b"sidecar_invalid_api_key_errors_total 1.0" in sidecar_metrics.exposition()
    assert upstream.breaker.state is breaker.State.CLOSED, "a refusal is an answer: the upstream is up"
