"""100 concurrent misses for one customer make exactly one upstream request."""

from __future__ import annotations

import asyncio

from stigg_emulator import launcher
from stigg_sidecar import client
from tests.integration.sidecar import conftest


async def test_hundred_concurrent_misses_one_upstream_request(
    stub: client.AsyncSidecarClient, emulator: launcher.RunningEmulator
) -> None:
    # A slow upstream (300 ms) so that all 100 checks arrive while the first fetch is in flight.
    await conftest.set_faults(emulator, latencyMs=300)

    answers = await asyncio.gather(
        *(
            stub.get_metered_entitlement("customer-free", "feature-api-calls", requested_usage=1)
            for _ in range(100)
        )
    )
    assert all(a.has_access and not a.is_fallback for a in answers)
    assert {a.entitlement.current_usage for a in answers} == {250}
    requests = await conftest.upstream_requests(emulator)
    assert requests["byCustomer"] == {"customer-free": 1}
