"""``WS_ENABLED=false``: no stream connection, and a change shows only once the entry's TTL
has expired (the fallback the stream replaces)."""

from __future__ import annotations

from stigg_devkit import waiting
from stigg_emulator import launcher
from stigg_sidecar import client
from tests.integration.sidecar import conftest


async def test_without_the_stream_changes_follow_the_ttl(
    emulator: launcher.RunningEmulator, start_sidecar: conftest.SidecarFactory
) -> None:
    running = start_sidecar(
        {**conftest.stream_env(emulator), "WS_ENABLED": "false", "SIDECAR_CACHE_TTL_SECONDS": "2"}
    )
    assert running.http_json("/readyz")[1]["stream"] == "disabled"
    async with client.AsyncSidecarClient(running.grpc_target, timeout=10) as stub:

        async def sso() -> bool:
            return (await stub.get_boolean_entitlement("customer-free", "feature-sso")).has_access

        assert not await sso()
        await conftest.emulator_admin(emulator, "PUT", "customers/customer-free", {"plan": "plan-pro"})
        assert not await sso(), "no stream: the cached entry answers until its TTL expires"
        await waiting.eventually(sso, within=10, what="the TTL to expire")

    requests = await conftest.upstream_requests(emulator)
    assert "stream:graphql" not in requests["byEndpoint"]
    assert requests["byEndpointAndCustomer"]["edge:entitlements-state"]["customer-free"] == 2
    _, stream = await conftest.emulator_admin(emulator, "GET", "stream")
    assert stream["accepted"] == 0
