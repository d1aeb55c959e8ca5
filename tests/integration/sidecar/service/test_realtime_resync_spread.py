"""After a stream drop, a real sidecar's resync is spread, as the upstream sees it: its refetches
arrive within the jitter window plus the time the rate allows, at most the rate a second,
every held entry once; meanwhile held customers answer from the cache and a customer the
sidecar never saw loads at once (only the background resync is paced)."""

from __future__ import annotations

import asyncio
import time

import pytest

from stigg_devkit import waiting
from stigg_emulator import launcher
from stigg_sidecar import client
from tests.integration.sidecar import conftest

HELD = 60
JITTER, RATE = 2.0, 20.0
EDGE = "edge:entitlements-state"


def _customer(i: int) -> str:
    return f"customer-spread-{i}"


async def _arrivals_since(emulator: launcher.RunningEmulator, since: float) -> list[float]:
    status, body = await conftest.emulator_admin(
        emulator, "GET", f"requests/arrivals?endpoint={EDGE}&since={since}"
    )
    assert status == 200
    assert isinstance(body, dict)
    arrivals: list[float] = body["arrivals"]
    return arrivals


@pytest.mark.slow
async def test_a_resync_after_a_drop_is_spread_and_bounded_by_the_rate(
    emulator: launcher.RunningEmulator, start_sidecar: conftest.SidecarFactory
) -> None:
    for i in range(HELD + 1):
        status, _ = await conftest.emulator_admin(
            emulator, "PUT", f"customers/{_customer(i)}", {"plan": "plan-pro"}
        )
        assert status == 201
    sidecar = conftest.start_live_sidecar(
        start_sidecar,
        emulator,
        SIDECAR_RESYNC_JITTER_SECONDS=str(JITTER),
        SIDECAR_RESYNC_RATE=str(RATE),
    )
    async with client.AsyncSidecarClient(sidecar.grpc_target, timeout=10) as stub:
        for i in range(HELD):
            assert (await stub.get_boolean_entitlement(_customer(i), "feature-sso")).has_access
        waiting.wait_for(
            lambda: sidecar.metric("sidecar_stream_resyncs_total") == 1, timeout=5, what="the first resync"
        )
        resynced_before = sidecar.metric("sidecar_stream_resynced_entries_total")

        dropped_at = time.time()
        status, body = await conftest.emulator_admin(emulator, "POST", "stream/drop")
        assert (status, body) == (200, {"dropped": 1})
        waiting.wait_for(
            lambda: sidecar.metric("sidecar_stream_connects_total") == 2, timeout=10, what="a reconnection"
        )

        # During the spread: held customers answer from the cache, a new one loads at once.
        began = time.monotonic()
        for i in range(0, HELD, 6):
            answer = await stub.get_boolean_entitlement(_customer(i), "feature-sso")
            assert (answer.has_access, answer.is_fallback) == (True, False)
        new = await stub.get_boolean_entitlement(_customer(HELD), "feature-sso")
        assert (new.has_access, new.is_fallback) == (True, False), "a miss loads on demand"
        assert time.monotonic() - began < 1.0, "no check waited for the resync"
        assert sidecar.metric("sidecar_stream_resynced_entries_total") - resynced_before < HELD

        waiting.wait_for(
            lambda: sidecar.metric("sidecar_stream_resynced_entries_total") - resynced_before == HELD,
            timeout=JITTER + HELD / RATE + 10,
            what="every held entry to be resynced",
        )
        await asyncio.sleep(0.5)  # nothing more comes
        arrivals = await _arrivals_since(emulator, dropped_at)

    assert len(arrivals) == HELD + 1, "every held entry refetched once, plus the new customer's load"
    span = arrivals[-1] - arrivals[0]
    assert span >= (HELD - 2) / RATE, f"spread over {span:.2f}s: no faster than the rate"
    assert arrivals[-1] - dropped_at <= JITTER + HELD / RATE + 5, (
        "within the jitter window plus the rate's time"
    )
    busiest = max(sum(1 for t in arrivals if start <= t < start + 1.0) for start in arrivals)
    assert busiest <= RATE + 4, (
        f"{busiest} fetches in one second (rate {RATE:g}, plus the burst and the miss)"
    )
