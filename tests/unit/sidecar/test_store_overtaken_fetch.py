"""A fetch that an event overtakes is repeated, so an answer computed before a change never
overwrites the change; entries current as of the stream's subscription stay fresh past their
TTL while it is live. Pure logic: the upstream is an in-process stand-in (named as such)
that lets the test decide when each fetch answers."""

from __future__ import annotations

import asyncio

from tests.unit.sidecar import standin_upstream

KEY, SEATS = standin_upstream.KEY, standin_upstream.SEATS
StandInUpstream = standin_upstream.StandInUpstream
_state = standin_upstream.state


async def test_an_event_during_a_fetch_makes_the_fetch_repeat() -> None:
    upstream = StandInUpstream(hold_first=True)
    sidecar = standin_upstream.make(upstream)
    check = asyncio.create_task(sidecar.checker.state(KEY))
    for _ in range(10):  # the load runs in a task of its own: a few loop turns
        await asyncio.sleep(0)
    assert upstream.fetches == 1  # in flight, carrying limit 5

    upstream.limit = 20.0  # the plan changes upstream, and its event arrives (customer not held yet)
    assert not sidecar.store.replace_entitlements(_state(20.0))
    upstream.release.set()

    state = await check
    assert state is not None
    assert state.entitlements[SEATS.id].usage_limit == 20.0
    assert upstream.fetches == 2
    assert sidecar.store.peek(KEY) == state


async def test_live_stream_keeps_entries_fresh_past_their_ttl_only_from_its_subscription() -> None:
    upstream = StandInUpstream()
    clock = [100.0]
    sidecar = standin_upstream.make(upstream, clock)
    await sidecar.checker.state(KEY)  # fetched as of 100
    sidecar.store.stream_live(105.0)  # the stream subscribed later: the entry may have missed events
    clock[0] = 111.0  # past the 10 s TTL
    await sidecar.checker.state(KEY)
    assert upstream.fetches == 2, "an entry from before the subscription follows its TTL"

    clock[0] = 500.0  # long past the TTL of the entry fetched as of 111
    await sidecar.checker.state(KEY)
    assert upstream.fetches == 2, "an entry from after the subscription stays fresh while live"

    sidecar.store.stream_down()  # the stream dropped
    await sidecar.checker.state(KEY)
    assert upstream.fetches == 3
