"""A resync is spread: it starts after its jitter, refreshes at most ``rate`` entries a second
and ``concurrency`` at once, the most recently used first, skipping entries refreshed meanwhile;
held entries answer during it and a check that misses loads at once (only the resync is paced).
Over an in-process upstream stand-in (named as such), with the follower's clock, sleep and
random draw injected: nothing sleeps for real."""

from __future__ import annotations

import asyncio

from stigg_sidecar import metrics, model, realtime
from stigg_sidecar.upstream import parse
from tests.unit.sidecar import standin_upstream

SEATS = standin_upstream.SEATS


class RecordingUpstream(standin_upstream.StandInUpstream):
    """A stand-in that answers each customer's own state and records when (on the test's
    clock) each fetch arrived; with ``gate`` unset, fetches wait for it."""

    def __init__(self, clock: list[float]) -> None:
        super().__init__()
        self.clock = clock
        self.arrivals: list[tuple[float, str]] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self.gate = asyncio.Event()
        self.gate.set()

    async def fetch(self, key: model.CustomerKey) -> model.EntitlementState:
        self.fetches += 1
        self.arrivals.append((self.clock[0], key.customer_id))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await self.gate.wait()
        finally:
            self.in_flight -= 1
        entitlement = model.Entitlement(SEATS, usage_limit=self.limit, current_usage=0.0)
        return model.EntitlementState(key, {SEATS.id: entitlement})


class FakeTime:
    """The follower's clock and sleep: a sleep advances the clock at once and is recorded;
    while ``parked``, a sleep waits for ``resume`` (to look at what happens meanwhile)."""

    def __init__(self, clock: list[float]) -> None:
        self.clock = clock
        self.sleeps: list[float] = []
        self.parked = False
        self.sleeping = asyncio.Event()
        self.resume = asyncio.Event()

    def now(self) -> float:
        return self.clock[0]

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self.parked:
            self.sleeping.set()
            await self.resume.wait()
        for _ in range(10):  # what was started before this sleep runs up to its fetch first
            await asyncio.sleep(0)
        self.clock[0] += seconds


def _keys(count: int) -> list[model.CustomerKey]:
    return [model.CustomerKey(f"customer-{i}") for i in range(count)]


async def _until(condition: object, what: str) -> None:
    for _ in range(10_000):
        if condition():  # type: ignore[operator]
            return
        await asyncio.sleep(0)
    raise AssertionError(f"never: {what}")


async def _held(count: int) -> tuple[list[float], RecordingUpstream, standin_upstream.Parts]:
    clock = [100.0]
    upstream = RecordingUpstream(clock)
    parts = standin_upstream.make(upstream, clock)
    for key in _keys(count):  # held as of 100, in this order of use
        await parts.store.load(key)
    upstream.arrivals.clear()
    clock[0] = 106.0
    return clock, upstream, parts


async def test_the_resync_waits_its_jitter_then_refreshes_at_most_the_rate_most_recent_first() -> None:
    clock, upstream, parts = await _held(10)
    fake = FakeTime(clock)
    draws: list[tuple[float, float]] = []

    def draw(low: float, high: float) -> float:
        draws.append((low, high))
        return 2.0

    policy = realtime.ResyncPolicy(jitter=3.0, rate=4.0, concurrency=2)
    follower = realtime.Follower(
        parts.store, metrics.Metrics(), policy, clock=fake.now, sleep=fake.sleep, draw=draw
    )
    follower.connected(since=105.0)
    await _until(lambda: parts.store.held_before(105.0) == [], "every held entry refreshed")

    assert draws == [(0.0, 3.0)]
    assert fake.sleeps[0] == 2.0, "first the jitter"
    times = [at for at, _ in upstream.arrivals]
    assert times == [108.0 + 0.25 * i for i in range(10)], "then one every 1/rate seconds"
    assert [customer for _, customer in upstream.arrivals] == [f"customer-{i}" for i in reversed(range(10))]
    await follower.close()


async def test_entries_refreshed_meanwhile_are_skipped() -> None:
    clock, upstream, parts = await _held(6)
    fake = FakeTime(clock)
    fake.parked = True
    policy = realtime.ResyncPolicy(jitter=1.0, rate=10.0)
    follower = realtime.Follower(
        parts.store, metrics.Metrics(), policy, clock=fake.now, sleep=fake.sleep, draw=lambda a, b: b
    )
    follower.connected(since=105.0)
    await fake.sleeping.wait()  # in its jitter
    entitlement = model.Entitlement(SEATS, usage_limit=9.0)
    follower.event(parse.EntitlementsUpdated(model.CustomerKey("customer-2"), (entitlement,)))  # current now
    await parts.store.reload(model.CustomerKey("customer-4"))  # refetched by other means
    parts.store.expire(model.CustomerKey("customer-0"))  # held still, as of long ago: resynced
    fake.parked = False
    fake.resume.set()
    await _until(lambda: parts.store.held_before(105.0) == [], "the rest refreshed")
    resynced = [customer for _, customer in upstream.arrivals[1:]]
    assert resynced == ["customer-5", "customer-3", "customer-1", "customer-0"]
    await follower.close()


async def test_held_entries_answer_during_the_spread_and_a_miss_loads_at_once() -> None:
    clock, upstream, parts = await _held(3)
    fake = FakeTime(clock)
    fake.parked = True
    policy = realtime.ResyncPolicy(jitter=5.0, rate=1.0)
    follower = realtime.Follower(
        parts.store, metrics.Metrics(), policy, clock=fake.now, sleep=fake.sleep, draw=lambda a, b: b
    )
    follower.connected(since=105.0)
    await fake.sleeping.wait()  # the resync waits its jitter
    held = await parts.checker.state(model.CustomerKey("customer-1"))
    assert held is not None
    assert upstream.fetches == 3, "a held entry answers from the cache, within its TTL"
    new = await parts.checker.state(model.CustomerKey("customer-new"))
    assert new is not None
    assert new.exists
    assert upstream.fetches == 4, "a miss loads at once: only the resync is paced"
    assert set(parts.store.held_before(105.0)) == set(_keys(3)), "the resync has not started"
    fake.parked = False
    fake.resume.set()
    await _until(lambda: parts.store.held_before(105.0) == [], "the resync")
    assert upstream.fetches == 7
    await follower.close()


async def test_the_concurrency_cap_holds_without_a_rate_limit() -> None:
    clock, upstream, parts = await _held(12)
    upstream.gate.clear()  # fetches wait: the cap, not the rate, is what limits
    fake = FakeTime(clock)
    follower = realtime.Follower(
        parts.store,
        metrics.Metrics(),
        realtime.ResyncPolicy(concurrency=3),
        clock=fake.now,
        sleep=fake.sleep,
    )
    follower.connected(since=105.0)
    await _until(lambda: upstream.in_flight == 3, "three fetches in flight")
    for _ in range(50):
        await asyncio.sleep(0)
    assert upstream.in_flight == 3, "no more than the cap"
    upstream.gate.set()
    await _until(lambda: parts.store.held_before(105.0) == [], "the resync")
    assert upstream.most_in_flight == 3
    assert fake.sleeps == [], "no jitter and no rate limit: nothing waits"
    await follower.close()


async def test_a_disconnection_cancels_a_resync_waiting_its_jitter() -> None:
    clock, upstream, parts = await _held(2)
    fake = FakeTime(clock)
    fake.parked = True
    follower = realtime.Follower(
        parts.store,
        metrics.Metrics(),
        realtime.ResyncPolicy(jitter=5.0, rate=1.0),
        clock=fake.now,
        sleep=fake.sleep,
    )
    follower.connected(since=105.0)
    await fake.sleeping.wait()
    follower.disconnected()
    fake.resume.set()
    for _ in range(50):
        await asyncio.sleep(0)
    assert upstream.arrivals == [], "the next connection resyncs instead"
    await follower.close()
