"""Upstream work follows its callers: fetches run a bounded number at a time; a load whose
checks have all given up before it got a slot never starts (2,000 abandoned cold checks kept
1,920 fetches running and held up the next customer's first check for 9.4 s); one that started
finishes and fills the store; a background refresh needs no caller; beyond the bounded queue a
load fails at once and its check answers the fail-safe way. Over an in-process stand-in for the
upstream (named as such) whose fetches answer when told."""

from __future__ import annotations

import asyncio

from stigg_sidecar import model
from tests.unit.sidecar import standin_upstream


class Gated(standin_upstream.StandInUpstream):
    """Every fetch waits for ``gate``; ``asked`` lists the customers fetched, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.asked: list[str] = []

    async def fetch(self, key: model.CustomerKey) -> model.EntitlementState:
        self.asked.append(key.customer_id)
        await self.gate.wait()
        state = standin_upstream.state(self.limit)
        return model.EntitlementState(key, state.entitlements)


async def _turns() -> None:
    for _ in range(30):
        await asyncio.sleep(0)


async def test_abandoned_loads_never_start_and_a_new_customer_waits_one_round_trip() -> None:
    upstream = Gated()
    sidecar = standin_upstream.make(upstream, upstream_concurrency=4)
    abandoned = [model.CustomerKey(f"cold-{n}") for n in range(200)]
    answers = await asyncio.gather(*(sidecar.checker.state(key, time_remaining=0.05) for key in abandoned))
    assert answers == [None] * 200, "each gave up at its deadline: the fail-safe chain answers"
    assert len(upstream.asked) == 4, "only the loads that got a slot started"

    upstream.gate.set()  # the four started ones finish; the 196 queued ones were dropped
    new = await asyncio.wait_for(sidecar.checker.state(model.CustomerKey("new")), 1.0)
    assert new is not None
    assert upstream.asked == [*(key.customer_id for key in abandoned[:4]), "new"]
    assert all(sidecar.store.peek(key) is not None for key in abandoned[:4]), "started loads filled the store"
    assert sidecar.store.peek(abandoned[4]) is None


async def test_a_load_with_a_caller_left_is_not_dropped() -> None:
    upstream = Gated()
    sidecar = standin_upstream.make(upstream, upstream_concurrency=1)
    blocker = asyncio.create_task(sidecar.checker.state(model.CustomerKey("first")))
    await _turns()
    shared = model.CustomerKey("shared")
    patient = asyncio.create_task(sidecar.checker.state(shared))
    hurried = asyncio.create_task(sidecar.checker.state(shared, time_remaining=0.02))
    assert await hurried is None
    upstream.gate.set()
    assert (await patient) is not None, "the patient caller still gets the shared load"
    assert upstream.asked == ["first", "shared"]
    await blocker


async def test_a_background_refresh_runs_without_callers() -> None:
    upstream = Gated()
    sidecar = standin_upstream.make(upstream, upstream_concurrency=1)
    blocker = asyncio.create_task(sidecar.checker.state(model.CustomerKey("first")))
    await _turns()
    assert sidecar.store.refresh_soon(model.CustomerKey("expired"), "revalidate")
    await _turns()
    upstream.gate.set()
    await blocker
    await _turns()
    assert upstream.asked == ["first", "expired"]


async def test_beyond_the_queue_a_load_fails_at_once() -> None:
    upstream = Gated()
    sidecar = standin_upstream.make(upstream, upstream_concurrency=1, upstream_queue=2)
    waiting = [asyncio.create_task(sidecar.checker.state(model.CustomerKey(f"c{n}"))) for n in range(3)]
    await _turns()  # one fetching, two queued
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await sidecar.checker.state(model.CustomerKey("one-too-many")) is None
    assert loop.time() - started < 0.05, "refused at once, not queued"
    upstream.gate.set()
    assert all(state is not None for state in await asyncio.gather(*waiting))
