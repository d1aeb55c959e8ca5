"""OFFLINE=true serves defaults only and never calls out."""

from __future__ import annotations

import json

from stigg_emulator import launcher
from stigg_sidecar import client
from tests.integration.sidecar import conftest


async def test_offline_never_calls_the_upstream(
    emulator: launcher.RunningEmulator, start_sidecar: conftest.SidecarFactory
) -> None:
    sidecar = start_sidecar(
        {
            **conftest.upstream_env(emulator),
            "OFFLINE": "true",
            "ENTITLEMENTS_FALLBACK": json.dumps({"feature-sso": {"hasAccess": True}}),
        }
    )
    async with client.AsyncSidecarClient(sidecar.grpc_target) as stub:
        sso = await stub.get_boolean_entitlement("customer-free", "feature-sso")
        assert (sso.has_access, sso.is_fallback) == (True, True), (
            "offline ignores what the upstream would say"
        )
        other = await stub.get_boolean_entitlement("customer-free", "feature-data-region")
        assert (other.has_access, other.is_fallback) == (False, True)
    requests = await conftest.upstream_requests(emulator)
    assert requests["total"] == 0
    status, body = sidecar.http_json("/readyz")
    assert (status, body["upstream"]) == (200, "offline")
