"""A cache hit is served without an upstream call; an unknown customer is cached negatively."""

from __future__ import annotations

from stigg_devkit import sidecar_launcher
from stigg_emulator import launcher
from stigg_sidecar import client
from tests.integration.sidecar import conftest


async def test_second_check_is_a_cache_hit(
    stub: client.AsyncSidecarClient,
    emulator: launcher.RunningEmulator,
    sidecar: sidecar_launcher.RunningSidecar,
) -> None:
    for _ in range(20):
        answer = await stub.get_boolean_entitlement("customer-pro", "feature-sso")
        assert answer.has_access
    await stub.get_metered_entitlement("customer-pro", "feature-api-calls", requested_usage=1)

    requests = await conftest.upstream_requests(emulator)
    assert requests["byCustomer"] == {"customer-pro": 1}
    assert sidecar.metric("sidecar_cache_hits_total") == 20
    assert sidecar.metric("sidecar_cache_misses_total") == 1


async def test_unknown_customer_is_cached_negatively(
    stub: client.AsyncSidecarClient, emulator: launcher.RunningEmulator
) -> None:
    for _ in range(10):
        answer = await stub.get_boolean_entitlement("customer-ghost", "feature-sso")
        assert not answer.has_access
    requests = await conftest.upstream_requests(emulator)
    assert requests["byCustomer"] == {"customer-ghost": 1}
