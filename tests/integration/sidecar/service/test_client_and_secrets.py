"""The typed clients (sync and async, with deadlines), and a refused API key that never shows."""

from __future__ import annotations

import asyncio
import json

from stigg_devkit import sidecar_launcher, waiting
from stigg_emulator import launcher
from stigg_sidecar import client
from stigg_sidecar.v1 import sidecar_pb2 as pb
from tests.integration.sidecar import conftest


def test_sync_client(module_sidecar: sidecar_launcher.RunningSidecar) -> None:
    with client.SidecarClient(module_sidecar.grpc_target, timeout=5) as sidecar:
        assert sidecar.get_boolean_entitlement("customer-pro", "feature-sso").has_access
        assert sidecar.get_numeric_entitlement("customer-free", "feature-max-projects").entitlement.value == 3
        listed = sidecar.get_entitlements("customer-pro")
        assert len(listed.entitlements) == 5


async def test_the_deadline_is_sent_and_met_with_the_fail_safe_answer(
    emulator: launcher.RunningEmulator, sidecar: sidecar_launcher.RunningSidecar
) -> None:
    await conftest.set_faults(emulator, latencyMs=1500)
    async with client.AsyncSidecarClient(sidecar.grpc_target, timeout=0.3) as sidecar_client:
        loop = asyncio.get_running_loop()
        started = loop.time()
        # The sidecar knows the 0.3 s deadline: it stops waiting for the 1.5 s upstream in time
        # and answers the fail-safe way (nothing held, no default: a denial marked fallback),
        # never DEADLINE_EXCEEDED.
        cold = await sidecar_client.get_boolean_entitlement("customer-pro", "feature-sso")
        assert loop.time() - started < 0.3
        assert (cold.has_access, cold.is_fallback, cold.access_denied_reason) == (
            False,
            True,
            pb.ACCESS_DENIED_REASON_UNKNOWN,
        )
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
