"""Concurrent misses for one customer make exactly one upstream fetch; a failed load reaches
every waiter and blocks no later one; a caller giving up does not cancel the shared load.
Over an in-process stand-in for the upstream (named as such)."""

from __future__ import annotations

import asyncio

import pytest

from stigg_sidecar.upstream import base
from tests.unit.sidecar import standin_upstream

KEY = standin_upstream.KEY


async def test_hundred_concurrent_loads_share_one_fetch() -> None:
    upstream = standin_upstream.StandInUpstream(hold_first=True)
    sidecar = standin_upstream.make(upstream)
    waiters = [asyncio.create_task(sidecar.store.load(KEY)) for _ in range(100)]
    await asyncio.sleep(0)  # let every waiter join the flight before the fetch returns
    upstream.release.set()
    states = await asyncio.gather(*waiters)
    assert all(state is states[0] for state in states)
    assert upstream.fetches == 1
    assert sidecar.store.lookup(KEY) == (states[0], True)


class _Failing(standin_upstream.StandInUpstream):
    def __init__(self) -> None:
        super().__init__()
        self.failing = True

    async def fetch(self, key: standin_upstream.model.CustomerKey) -> standin_upstream.model.EntitlementState:
        if self.failing:
            self.fetches += 1
            await asyncio.sleep(0.01)
            raise base.UpstreamError("upstream down")
        return await super().fetch(key)


async def test_a_failure_reaches_every_waiter_and_is_not_cached() -> None:
    upstream = _Failing()
    sidecar = standin_upstream.make(upstream)
    results = await asyncio.gather(*(sidecar.store.load(KEY) for _ in range(5)), return_exceptions=True)
    assert all(isinstance(r, base.UpstreamError) for r in results)
    assert upstream.fetches == 1
    assert sidecar.store.lookup(KEY) is None

    upstream.failing = False
    state = await sidecar.store.load(KEY)
    assert state.key == KEY, "a failed flight must not block the next load"


async def test_a_caller_giving_up_does_not_cancel_the_shared_load() -> None:
    upstream = standin_upstream.StandInUpstream(hold_first=True)
    sidecar = standin_upstream.make(upstream)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(sidecar.store.load(KEY), timeout=0.01)
    upstream.release.set()
    state = await sidecar.store.load(KEY)
    assert state.key == KEY
    assert upstream.fetches == 1
    assert sidecar.store.loads == 1
