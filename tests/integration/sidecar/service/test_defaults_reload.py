"""An edited defaults file (a mounted ConfigMap directory) is served without a restart."""

from __future__ import annotations

import asyncio
import json
import pathlib

from stigg_sidecar import client
from tests.integration.sidecar import conftest


async def test_edited_defaults_are_served_without_restart(
    tmp_path: pathlib.Path, start_sidecar: conftest.SidecarFactory
) -> None:
    defaults_dir = tmp_path / "defaults"
    defaults_dir.mkdir()
    (defaults_dir / "defaults.json").write_text(json.dumps({"feature-seats": {"usageLimit": 5}}))
    sidecar = start_sidecar(
        {"OFFLINE": "true", "SIDECAR_DEFAULTS_DIR": str(defaults_dir), "SIDECAR_DEFAULTS_POLL_SECONDS": "0.1"}
    )
    async with client.AsyncSidecarClient(sidecar.grpc_target) as stub:
        before = await stub.get_metered_entitlement("c1", "feature-seats", requested_usage=6)
        assert (before.has_access, before.is_fallback, before.entitlement.usage_limit) == (False, True, 5)

        (defaults_dir / "defaults.json").write_text(json.dumps({"feature-seats": {"usageLimit": 50}}))
        for _ in range(100):
            after = await stub.get_metered_entitlement("c1", "feature-seats", requested_usage=6)
            if after.has_access:
                break
            await asyncio.sleep(0.05)
        assert (after.has_access, after.entitlement.usage_limit) == (True, 50)
    assert sidecar.process.poll() is None, "no restart happened"
