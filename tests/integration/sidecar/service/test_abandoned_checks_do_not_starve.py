"""A burst of abandoned cold checks cannot starve a new customer: 500 checks of customers the
sidecar has never seen, each giving up after 0.6 s against a 1 s upstream, leave at most
``SIDECAR_UPSTREAM_CONCURRENCY`` fetches running (the rest never start); the next customer's
first check is answered from the upstream within about two round trips (before: 1,920 fetches
kept running for 31 s and the next cold check took 9.4 s)."""

from __future__ import annotations

import asyncio

from stigg_emulator import launcher
from stigg_sidecar import client
from tests.integration.sidecar import conftest

BURST = 500
LATENCY_S = 1.0
HURRIED_S = 0.6  # well short of the upstream: no check of the burst can be answered from it


async def test_abandoned_cold_checks_do_not_delay_the_next_customer(
    emulator: launcher.RunningEmulator, start_sidecar: conftest.SidecarFactory
) -> None:
    sidecar = start_sidecar({**conftest.upstream_env(emulator), "SIDECAR_UPSTREAM_CONCURRENCY": "16"})
    await conftest.set_faults(emulator, latencyMs=LATENCY_S * 1000)
    async with client.AsyncSidecarClient(sidecar.grpc_target, timeout=HURRIED_S) as hurried:
        answers = await asyncio.gather(
            *(hurried.get_boolean_entitlement(f"customer-gone-{n}", "feature-sso") for n in range(BURST)),
            return_exceptions=True,
        )
    # On a busy machine some (or all) of the burst are late and their caller gives up; those
    # that were answered in time got the fail-safe answer, none an upstream one.
    answered = [a for a in answers if not isinstance(a, BaseException)]
    assert all(a.is_fallback for a in answered)

    loop = asyncio.get_running_loop()
    async with client.AsyncSidecarClient(sidecar.grpc_target, timeout=10) as patient:
        started = loop.time()
        first = await patient.get_boolean_entitlement("customer-pro", "feature-sso")
        took = loop.time() - started
    assert (first.has_access, first.is_fallback) == (True, False)
    assert took < 2.5 * LATENCY_S, f"took {took:.2f} s"
    await asyncio.sleep(LATENCY_S * 1.5)  # whatever started has finished by now
    requests = await conftest.upstream_requests(emulator)
    fetched = requests["byEndpoint"]["edge:entitlements-state"]
    assert fetched <= 16 + 1 + 16, f"{fetched} fetches: only those that got a slot (and the new customer)"
    # Every check answered in time had a load; at most 16 of those got a slot, the rest never started.
    assert sidecar.metric("sidecar_abandoned_loads_total") >= len(answered) - 16
