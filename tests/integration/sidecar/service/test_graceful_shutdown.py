"""SIGTERM: health turns NOT_SERVING, in-flight calls finish within the grace period, exit 0."""

from __future__ import annotations

import asyncio

from stigg_emulator import launcher
from stigg_sidecar import client
from tests.integration.sidecar import conftest


async def test_sigterm_drains_in_flight_calls(
    emulator: launcher.RunningEmulator, start_sidecar: conftest.SidecarFactory
) -> None:
    sidecar = start_sidecar(conftest.upstream_env(emulator))
    await conftest.set_faults(emulator, latencyMs=800)  # a miss now takes 0.8 s upstream
    async with client.AsyncSidecarClient(sidecar.grpc_target, timeout=10) as stub:
        in_flight = asyncio.create_task(stub.get_boolean_entitlement("customer-pro", "feature-sso"))
        await asyncio.sleep(0.3)  # the call has reached the sidecar and waits on the upstream
        sidecar.terminate()
        answer = await in_flight
        assert (answer.has_access, answer.is_fallback) == (True, False)
    exit_code = await asyncio.to_thread(sidecar.process.wait, 15)
    assert exit_code == 0
    log = sidecar.log()
    assert "signal received: draining" in log
    assert log.rstrip().endswith('"message": "stopped"}')
