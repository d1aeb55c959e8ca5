"""The typed clients (sync and async, with deadlines), and a refused API key that never shows."""

from __future__ import annotations

import json

import grpc
import pytest

from stigg_devkit import sidecar_launcher, waiting
from stigg_emulator import launcher
from stigg_sidecar import client
from tests.integration.sidecar import conftest


def test_sync_client(module_sidecar: sidecar_launcher.RunningSidecar) -> None:
    with client.SidecarClient(module_sidecar.grpc_target, timeout=5) as sidecar:
        assert sidecar.get_boolean_entitlement("customer-pro", "feature-sso").has_access
        assert sidecar.get_numeric_entitlement("customer-free", "feature-max-projects").entitlement.value == 3
        listed = sidecar.get_entitlements("customer-pro")
        assert len(listed.entitlements) == 5


async def test_deadline_is_sent_and_enforced(
    emulator: launcher.RunningEmulator, sidecar: sidecar_launcher.RunningSidecar
) -> None:
    await conftest.set_faults(emulator, latencyMs=1500)
    async with client.AsyncSidecarClient(sidecar.grpc_target, timeout=0.3) as sidecar_client:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await sidecar_client.get_boolean_entitlement("customer-pro", "feature-sso")
        assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        # The shared fetch went on without the caller and filled the cache.
        answer = await sidecar_client.get_boolean_entitlement("customer-pro", "feature-sso", timeout=5)
        assert (answer.has_access, answer.is_fallback) == (True, False)


async def test_refused_api_key_serves_defaults_and_never_logs_the_key(
    emulator: launcher.RunningEmulator, start_sidecar: conftest.SidecarFactory
) -> None:
    wrong_key = "sk-refused-9f8e7d"
    sidecar = start_sidecar(
        {
            **conftest.upstream_env(emulator),
            "SERVER_API_KEY": wrong_key,
            "ENTITLEMENTS_FALLBACK": json.dumps({"feature-sso": {"hasAccess": True}}),
        }
    )
    async with client.AsyncSidecarClient(sidecar.grpc_target, timeout=5) as sidecar_client:
        answer = await sidecar_client.get_boolean_entitlement("customer-pro", "feature-sso")
        assert (answer.has_access, answer.is_fallback) == (True, True)
        accepted = await sidecar_client.report_usage("customer-pro", "feature-api-calls", 1)
        assert accepted.measurement_id, "kept in the outbox until the key is fixed"
    # The fetch was refused, and so is the outbox's attempt to send the report (it keeps it).
    waiting.wait_for(
        lambda: sidecar.metric("sidecar_invalid_api_key_errors_total") >= 2,
        timeout=10,
        what="the outbox's attempt to be refused too",
    )
    assert sidecar.metric("sidecar_outbox_depth") == 1
    log = sidecar.log()
    assert "refused the API key" in log
    assert wrong_key not in log
