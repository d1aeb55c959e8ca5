"""The hub sends a subscribed customer's state at once, then every change the store applies, in
order, numbered per stream; it says when the sidecar holds nothing; a stream whose client does
not read is dropped at its buffer's bound while the other streams go on; live epochs travel in
Status messages and states. Over a real store (and a stand-in upstream)."""

from __future__ import annotations

import asyncio

import pytest

from stigg_sidecar import metrics
from stigg_sidecar.mirror import codec, hub
from stigg_sidecar.v1 import mirror_pb2 as mpb
from tests.unit.sidecar import standin_upstream

KEY, SEATS = standin_upstream.KEY, standin_upstream.SEATS


async def _drain(stream: hub.Stream) -> list[mpb.FollowResponse]:
    out = []
    while (framed := await stream.next(0.001)) is not None:
        out.append(mpb.FollowResponse.FromString(framed))
    return out


def _hub(buffer: int = 100) -> tuple[hub.Hub, standin_upstream.Parts]:
    parts = standin_upstream.make(standin_upstream.StandInUpstream())
    return hub.Hub(parts.store, metrics.Metrics(), buffer=buffer, heartbeat=0.01), parts


async def test_a_subscription_gets_the_state_then_every_change_in_order() -> None:
    mirror, parts = _hub()
    await parts.store.load(KEY)
    stream = mirror.open("s1")
    mirror.subscribe(stream, [KEY])
    parts.store.set_usage(KEY, SEATS.id, 4, None)  # an event
    parts.store.set_local_usage(KEY, SEATS.id, 6)  # usage a caller reported
    messages = await _drain(stream)
    assert [m.sequence for m in messages] == [1, 2, 3, 4]
    assert [m.WhichOneof("change") for m in messages] == ["status", "state", "state", "state"]
    usages = [codec.state_of(m.state).entitlements[SEATS.id].current_usage for m in messages[1:]]
    assert usages == [0, 4, 6]
    assert mirror.sequence("s1") == 4


async def test_unheld_and_evicted_customers_are_absent() -> None:
    mirror, parts = _hub()
    stream = mirror.open("s1")
    mirror.subscribe(stream, [KEY])
    await parts.store.load(KEY)  # the sidecar loads it later: the state follows
    messages = await _drain(stream)
    assert [m.WhichOneof("change") for m in messages] == ["status", "absent", "state"]
    parts.store._cache.invalidate(KEY)  # what an eviction does
    (gone,) = await _drain(stream)
    assert gone.WhichOneof("change") == "absent"
    assert codec.key_of(gone.absent) == KEY


async def test_a_stream_that_is_not_read_is_dropped_and_the_others_go_on() -> None:
    mirror, parts = _hub(buffer=8)
    await parts.store.load(KEY)
    slow, fast = mirror.open("slow"), mirror.open("fast")
    mirror.subscribe(slow, [KEY])
    mirror.subscribe(fast, [KEY])
    for usage in range(1, 21):
        parts.store.set_usage(KEY, SEATS.id, usage, None)
        assert len(await _drain(fast)) >= 1
    assert slow.dropped
    assert mirror.streams == 1
    with pytest.raises(hub.Dropped):
        await slow.next(0.001)
    parts.store.set_usage(KEY, SEATS.id, 99, None)
    (last,) = await _drain(fast)
    assert codec.state_of(last.state).entitlements[SEATS.id].current_usage == 99


async def test_live_epochs_reach_statuses_and_states() -> None:
    mirror, parts = _hub()
    stream = mirror.open("s1")
    await _drain(stream)
    parts.store.stream_live(parts.store.now())
    await parts.store.refresh(KEY)  # current as of the moment the stream went live
    mirror.subscribe(stream, [KEY])
    parts.store.stream_down()
    status, state, down = await _drain(stream)
    assert status.status.live_epoch == 1
    assert state.state.current_epoch == 1
    assert down.status.live_epoch == 0


async def test_a_quiet_stream_gets_heartbeats() -> None:
    mirror, _parts = _hub()
    stream = mirror.open("s1")
    await _drain(stream)
    assert await stream.next(0.01) is None
    mirror.heartbeat_of(stream)
    (beat,) = await _drain(stream)
    assert beat.WhichOneof("change") == "status"


async def test_shutdown_ends_every_stream() -> None:
    mirror, _parts = _hub()
    stream = mirror.open("s1")
    mirror.subscribe(stream, [KEY])
    waiting = asyncio.ensure_future(stream.next(5))
    await _drain(stream)
    mirror.shutdown()
    with pytest.raises(hub.Ended):
        await waiting
    assert (mirror.streams, mirror.subscriptions) == (0, 0)
