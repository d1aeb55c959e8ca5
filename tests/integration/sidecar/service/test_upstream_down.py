"""With the upstream killed, cached answers are still served (expired ones too), and uncached
customers get the static defaults marked as fallback, then the request's own fallback."""

from __future__ import annotations

import asyncio
import json

from stigg_emulator import launcher
from stigg_sidecar import client
from stigg_sidecar.v1 import sidecar_pb2 as pb
from tests.integration.sidecar import conftest


async def test_cache_then_defaults_when_the_upstream_is_killed(
    emulator: launcher.RunningEmulator, start_sidecar: conftest.SidecarFactory
) -> None:
    sidecar = start_sidecar(
        {
            **conftest.upstream_env(emulator),
            "SIDECAR_CACHE_TTL_SECONDS": "0.5",  # so that the cached entry is expired when asked again
            "ENTITLEMENTS_FALLBACK": json.dumps({"feature-sso": {"hasAccess": True}}),
        }
    )
    async with client.AsyncSidecarClient(sidecar.grpc_target, timeout=10) as stub:
        warm = await stub.get_metered_entitlement("customer-free", "feature-api-calls", requested_usage=10)
        assert (warm.has_access, warm.is_fallback) == (True, False)

        assert emulator.stop() == 0  # the upstream is gone: connections are refused from now on

        await asyncio.sleep(0.6)
        stale = await stub.get_metered_entitlement("customer-free", "feature-api-calls", requested_usage=10)
        assert (stale.has_access, stale.is_fallback, stale.entitlement.usage_limit) == (True, False, 1000)
        over = await stub.get_metered_entitlement("customer-free", "feature-api-calls", requested_usage=800)
        assert over.access_denied_reason == pb.ACCESS_DENIED_REASON_REQUESTED_USAGE_EXCEEDING_LIMIT

        defaulted = await stub.get_boolean_entitlement("customer-pro", "feature-sso")
        assert (defaulted.has_access, defaulted.is_fallback) == (True, True)

        own = await stub.get_boolean_entitlement("customer-pro", "feature-other", fallback=True)
        assert (own.has_access, own.is_fallback) == (True, True)

        nothing = await stub.get_boolean_entitlement("customer-pro", "feature-other")
        assert (nothing.has_access, nothing.is_fallback, nothing.access_denied_reason) == (
            False,
            True,
            pb.ACCESS_DENIED_REASON_UNKNOWN,
        )

    assert sidecar.metric("sidecar_stale_served_total") >= 2
    assert sidecar.metric("sidecar_fallbacks_served_total", 'source="defaults"') == 1
    assert sidecar.metric("sidecar_fallbacks_served_total", 'source="request"') == 1
    assert sidecar.metric("sidecar_network_request_errors_total", 'operation="fetch"') >= 1
    status, body = sidecar.http_json("/readyz")
    assert status == 200, "upstream trouble must not make a fail-safe sidecar unready"
    assert body["upstream"] in {"closed", "open", "half-open"}
