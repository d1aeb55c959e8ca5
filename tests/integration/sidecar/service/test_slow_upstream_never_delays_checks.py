"""A slow upstream never leaks into checks: with the upstream at 2 s and checks given 1 s, an
entry past its TTL answers at once from what is held (before: DEADLINE_EXCEEDED, once per
customer per TTL whenever the stream is down or off) while it is refreshed in the background,
and a customer seen for the first time gets the fail-safe answer (``is_fallback``) within its
deadline, not DEADLINE_EXCEEDED; the load goes on, so a later check finds it held."""

from __future__ import annotations

import asyncio
import json

from stigg_devkit import waiting
from stigg_emulator import launcher
from stigg_sidecar import client
from tests.integration.sidecar import conftest


async def test_checks_meet_their_deadline_with_a_two_second_upstream(
    emulator: launcher.RunningEmulator, start_sidecar: conftest.SidecarFactory
) -> None:
    sidecar = start_sidecar(
        {
            **conftest.upstream_env(emulator),
            "WS_ENABLED": "false",
            "SIDECAR_CACHE_TTL_SECONDS": "1",
            "SIDECAR_UPSTREAM_TIMEOUT_SECONDS": "5",  # the upstream is slow, not down
            "ENTITLEMENTS_FALLBACK": json.dumps({"feature-sso": {"hasAccess": False}}),
        }
    )
    loop = asyncio.get_running_loop()
    async with client.AsyncSidecarClient(sidecar.grpc_target, timeout=1.0) as stub:
        warm = await stub.get_boolean_entitlement("customer-pro", "feature-sso")
        assert (warm.has_access, warm.is_fallback) == (True, False)
        await conftest.set_faults(emulator, latencyMs=2000)
        await asyncio.sleep(1.2)  # past the TTL

        started = loop.time()
        held = await stub.get_boolean_entitlement("customer-pro", "feature-sso")
        assert (held.has_access, held.is_fallback) == (True, False), "the entry it already has"
        assert loop.time() - started < 0.5, "without waiting for the upstream"

        started = loop.time()
        cold = await stub.get_boolean_entitlement("customer-free", "feature-sso")
        assert cold.is_fallback, "nothing held: the static default, in time"
        assert loop.time() - started < 1.0

        async def loaded() -> bool:
            answer = await stub.get_boolean_entitlement("customer-free", "feature-sso")
            return not answer.is_fallback

        await waiting.eventually(loaded, within=10, what="the abandoned load to fill the cache")
    assert sidecar.metric("sidecar_cache_revalidations_total") >= 1
    assert sidecar.metric("sidecar_load_deadlines_total") >= 1
