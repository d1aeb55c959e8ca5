"""A dropped stream reconnects, and the sidecar then refreshes what it holds, since events may
have been missed: a change made while the stream was down shows once it is back. A connection
that goes silent (a stopped server: no close, no answer) is detected by the keep-alive."""

from __future__ import annotations

import os
import signal

import pytest

from stigg_devkit import sidecar_launcher, waiting
from stigg_emulator import launcher
from stigg_sidecar import client
from tests.integration.sidecar import conftest


@pytest.fixture
def live_sidecar(
    emulator: launcher.RunningEmulator, start_sidecar: conftest.SidecarFactory
) -> sidecar_launcher.RunningSidecar:
    return conftest.start_live_sidecar(start_sidecar, emulator)  # the TTL is the default 300 s


async def _sso(stub: client.AsyncSidecarClient, customer_id: str) -> bool:
    return (await stub.get_boolean_entitlement(customer_id, "feature-sso")).has_access


async def test_a_change_made_while_the_stream_was_down_shows_after_it_returns(
    live_stub: client.AsyncSidecarClient,
    live_sidecar: sidecar_launcher.RunningSidecar,
    emulator: launcher.RunningEmulator,
) -> None:
    assert not await _sso(live_stub, "customer-free")
    assert await _sso(live_stub, "customer-pro")

    await conftest.set_faults(emulator, outage=True)  # drops the stream and refuses reconnections
    waiting.wait_for(lambda: not conftest.stream_live(live_sidecar), timeout=5, what="the stream to drop")
    status, _ = await conftest.emulator_admin(
        emulator, "PUT", "customers/customer-free", {"plan": "plan-pro"}
    )
    assert status == 200
    assert not await _sso(live_stub, "customer-free"), "no event, and the entry is within its TTL"
    refused = live_sidecar.metric("sidecar_stream_disconnects_total")
    waiting.wait_for(
        lambda: live_sidecar.metric("sidecar_stream_disconnects_total") > refused,
        timeout=5,
        what="a refused reconnection attempt",
    )

    await conftest.set_faults(emulator, outage=False)
    await waiting.eventually(lambda: _sso(live_stub, "customer-free"), within=10, what="the resync")
    assert live_sidecar.metric("sidecar_stream_connects_total") == 2
    waiting.wait_for(
        lambda: live_sidecar.metric("sidecar_stream_resynced_entries_total") == 2,
        timeout=5,
        what="both held entries to be refreshed",
    )
    assert live_sidecar.metric("sidecar_stream_resyncs_total") == 2  # the first connection's, and this one


async def test_a_dropped_connection_reconnects_and_follows_again(
    live_stub: client.AsyncSidecarClient,
    live_sidecar: sidecar_launcher.RunningSidecar,
    emulator: launcher.RunningEmulator,
) -> None:
    assert not await _sso(live_stub, "customer-free")
    status, body = await conftest.emulator_admin(emulator, "POST", "stream/drop")
    assert (status, body) == (200, {"dropped": 1})
    waiting.wait_for(
        lambda: live_sidecar.metric("sidecar_stream_connects_total") == 2, timeout=10, what="a reconnection"
    )
    waiting.wait_for(lambda: conftest.stream_live(live_sidecar), timeout=5, what="the stream to be live")
    await conftest.emulator_admin(emulator, "PUT", "customers/customer-free", {"plan": "plan-pro"})
    await waiting.eventually(
        lambda: _sso(live_stub, "customer-free"), within=5, what="the event after reconnecting"
    )
    assert "event stream lost" in live_sidecar.log()


async def test_a_silent_connection_is_dropped_by_the_keepalive(
    live_sidecar: sidecar_launcher.RunningSidecar, emulator: launcher.RunningEmulator
) -> None:
    os.kill(emulator.process.pid, signal.SIGSTOP)  # the TCP connection stays open; nothing answers
    try:
        waiting.wait_for(
            lambda: not conftest.stream_live(live_sidecar), timeout=10, what="the keep-alive to give up"
        )
        assert "no answer to a ping" in live_sidecar.log()
    finally:
        os.kill(emulator.process.pid, signal.SIGCONT)
    waiting.wait_for(lambda: conftest.stream_live(live_sidecar), timeout=10, what="the stream to come back")
