"""A slow upstream never delays a held customer, and a miss waits no longer than its caller:
an entry past its TTL (by less than ``max_stale``) answers at once while one background refresh
runs for all the checks that saw it; past ``max_stale`` a check waits for the refresh; a miss
whose deadline comes first answers from the fail-safe chain while the load goes on and fills
the store. Over an in-process stand-in for the upstream (named as such) that answers when told."""

from __future__ import annotations

import asyncio

from tests.unit.sidecar import standin_upstream

KEY, SEATS = standin_upstream.KEY, standin_upstream.SEATS


class Gated(standin_upstream.StandInUpstream):
    """Answers the first fetch at once and every later one only when ``gate`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()

    async def fetch(self, key: standin_upstream.model.CustomerKey) -> standin_upstream.model.EntitlementState:
        answer = standin_upstream.state(self.limit, self.usage)
        self.fetches += 1
        if self.fetches > 1:
            await self.gate.wait()
        return answer


async def _turns() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


def _limit(state: standin_upstream.model.EntitlementState | None) -> float | None:
    return None if state is None else state.entitlements[SEATS.id].usage_limit


async def test_an_expired_entry_answers_at_once_and_is_refreshed_once_in_the_background() -> None:
    upstream, clock = Gated(), [0.0]
    sidecar = standin_upstream.make(upstream, clock, max_stale=60)
    assert _limit(await sidecar.checker.state(KEY)) == 5
    upstream.limit = 20
    clock[0] = 15.0  # 5 s past the 10 s TTL
    answers = await asyncio.wait_for(
        asyncio.gather(*(sidecar.checker.state(KEY, time_remaining=1.0) for _ in range(10))), 0.5
    )
    assert [_limit(a) for a in answers] == [5] * 10, "the held entry, without waiting for the upstream"
    await _turns()
    assert upstream.fetches == 2, "one background refresh for all of them"
    upstream.gate.set()
    await _turns()
    assert _limit(await sidecar.checker.state(KEY)) == 20
    assert upstream.fetches == 2, "fresh again: no further fetch"


async def test_past_max_stale_a_check_waits_for_the_refresh() -> None:
    upstream, clock = Gated(), [0.0]
    sidecar = standin_upstream.make(upstream, clock, max_stale=60)
    await sidecar.checker.state(KEY)
    upstream.limit = 20
    clock[0] = 100.0  # 90 s past the TTL: too stale to answer without asking
    waiting = asyncio.create_task(sidecar.checker.state(KEY))
    await _turns()
    assert not waiting.done()
    upstream.gate.set()
    assert _limit(await waiting) == 20


async def test_a_miss_answers_nothing_known_at_its_deadline_and_the_load_fills_the_store() -> None:
    upstream = Gated()
    upstream.fetches = 1  # every fetch waits for the gate
    sidecar = standin_upstream.make(upstream, wait_limit=10)
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await sidecar.checker.state(KEY, time_remaining=0.2) is None, "the fail-safe chain answers"
    assert 0.1 <= loop.time() - started < 0.2, "its deadline less a margin, not the upstream's time"
    upstream.gate.set()
    await _turns()
    assert _limit(sidecar.store.peek(KEY)) == 5, "the abandoned wait left the load running"


async def test_a_held_entry_past_its_deadline_answers_stale_if_too_stale_to_skip_the_wait() -> None:
    upstream, clock = Gated(), [0.0]
    sidecar = standin_upstream.make(upstream, clock, max_stale=0)
    await sidecar.checker.state(KEY)
    clock[0] = 11.0
    assert _limit(await sidecar.checker.state(KEY, time_remaining=0.1)) == 5, "stale beats nothing"
