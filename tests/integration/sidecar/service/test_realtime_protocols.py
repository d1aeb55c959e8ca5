"""The sidecar speaks Stigg's current real-time protocol (entitlementsUpdatedV2,
usageUpdatedV2, packagePublished) and falls back to the legacy one only against a server that
refuses it; ``/readyz`` and ``sidecar_stream_protocol`` say which is followed, and changes
reach the answers either way."""

from __future__ import annotations

import pytest

from stigg_devkit import sidecar_launcher, waiting
from stigg_emulator import catalog, launcher
from stigg_sidecar import client
from tests.integration.sidecar import conftest


@pytest.mark.parametrize(("legacy_only", "protocol"), [(False, "v2"), (True, "legacy")])
async def test_changes_reach_the_answers_in_the_protocol_the_server_speaks(
    start_sidecar: conftest.SidecarFactory, legacy_only: bool, protocol: str
) -> None:
    emulator = launcher.start(
        catalog_path=catalog.SAMPLE_PATH, latency_ms=0, api_key=conftest.API_KEY, legacy_only=legacy_only
    )
    try:
        sidecar: sidecar_launcher.RunningSidecar = conftest.start_live_sidecar(start_sidecar, emulator)
        assert sidecar.http_json("/readyz")[1]["streamProtocol"] == protocol
        assert sidecar.metric("sidecar_stream_protocol", f'protocol="{protocol}"') == 1
        async with client.AsyncSidecarClient(sidecar.grpc_target, timeout=5) as stub:
            assert not (await stub.get_boolean_entitlement("customer-free", "feature-sso")).has_access
            await conftest.emulator_admin(emulator, "PUT", "customers/customer-free", {"plan": "plan-pro"})

            async def granted() -> bool:
                return (await stub.get_boolean_entitlement("customer-free", "feature-sso")).has_access

            await waiting.eventually(granted, within=5, what="the plan change to reach the sidecar")
        assert sidecar.metric("sidecar_stream_events_total", 'kind="entitlements"') >= 1
    finally:
        emulator.stop()
