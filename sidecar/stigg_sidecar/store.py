"""The entitlement store: everything the sidecar holds about customers, and how it is filled.

One object owns the in-process cache, Redis (the shared cache), the loads in flight and the
real-time stream's liveness; the read path (``checker``), the write path (``writes``) and the
stream follower (``realtime``) all go through its methods, never through its parts.

* **Lookup** (the hot path, no I/O): the cached entry and whether it is fresh. While the
  stream is live (``stream_live(since)``), an entry current as of the moment the stream
  subscribed stays fresh past its TTL: events keep it current. Otherwise the TTL decides.
* **Loads**, single flight per key: concurrent loads of one key share one upstream call (its
  task is shielded, so a caller that gives up at its deadline does not cancel it for the others,
  and it still fills the cache for the next caller), from Redis
  when configured and its entry is fresh enough, else from the upstream, whose answer is
  written to Redis; unknown customers are cached too, for ``negative_ttl``. With the upstream
  failing, a stale Redis entry still beats nothing. ``refresh``, ``refresh_soon`` (the same, in
  the background: an expired entry that answered at once, an event, a recheck) and ``reload``
  skip Redis.
* **Upstream work follows its callers**: at most ``upstream_concurrency`` fetches run at once;
  the loads waiting for a slot are bounded too (``upstream_queue``: beyond it a load fails at
  once, ``base.QueueFull``, and its check takes the fail-safe chain). A load whose callers have
  all gone (their deadline passed, or they were cancelled) before it got a slot never starts,
  so a burst of abandoned or unknown customers cannot hold up a new customer's first check;
  one that started finishes and fills the cache. Background refreshes run without callers.
* **Overtaken fetches**: a fetch during which an event for its key arrived may predate the
  change, so it is repeated (up to ``REFETCHES`` times): an older answer never overwrites a
  newer event.
* **Pending usage**: every state from the upstream (a fetch, Redis, an event) goes through the
  ledger (``pending``) with the state held, so usage accepted but not yet acknowledged stays in
  the answers and a report in doubt is neither counted twice nor lost. When reports stop being
  in doubt (``settled``), a fetch in flight for the customer is repeated (it may predate the
  answer) and the customers the ledger names are refetched. A first load that finds a report
  of its customer in doubt and nothing held waits (at most ``doubt_wait``) for the answer and
  fetches again.
* **Events** replace a held customer's entitlements or one feature's usage at once, and are
  written to Redis in order by one writer task behind a bounded queue (best effort: a full
  queue skips the write and counts a Redis error; the TTL bounds the staleness). Redis gets
  what the upstream said, never the local view with pending usage replayed in: whoever reads
  it replays its own pending usage on top. An event never creates a Redis entry no replica
  asked for; it only replaces one.
* **Observed**: an ``Observer`` (``observe``; the mirror's hub) hears every change of a held
  entry, from the cache itself, and every change of the stream's liveness.

Runs on one event loop; nothing awaits between reading and writing the cache.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol

from stigg_sidecar import cache, footprint, metrics, model, pending, shared_cache
from stigg_sidecar.upstream import base

logger = logging.getLogger(__name__)

REFETCHES = 3  # how many times an overtaken fetch is repeated before its answer is taken anyway
WRITE_QUEUE_LIMIT = 10_000  # event writes to Redis waiting at most

SharedWrite = Callable[[shared_cache.SharedCache], Awaitable[None]]


class Observer(Protocol):
    """Who hears of every change of what the store holds (``EntitlementStore.observe``)."""

    def entry_changed(
        self, key: model.CustomerKey, entry: cache.Entry[model.EntitlementState] | None
    ) -> None:
        """A held entry changed (``entry``: the new one) or left the cache (None)."""

    def stream_changed(self, live_since: float | None) -> None:
        """The stream went live at ``live_since`` (on the store's clock), or down (None)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Policy:
    ttl: float
    negative_ttl: float


@dataclasses.dataclass(slots=True)
class _Watch:
    """Fetches in flight for one key, and how many events for it arrived meanwhile."""

    fetches: int = 0
    changes: int = 0


@dataclasses.dataclass(slots=True, eq=False)
class _Flight:
    """One load in flight: its task, who waits for it, and whether it got an upstream slot."""

    task: asyncio.Task[model.EntitlementState] = dataclasses.field(init=False)
    waiters: int = 0
    background: bool = False  # a refresh nobody waits for: it runs without callers
    started: bool = False  # past the upstream queue: it finishes whoever waits


@dataclasses.dataclass(frozen=True, slots=True)
class _Loaded:
    """A loaded state, how long it stays fresh, and the moment it was current as of (None: when
    the load returned)."""

    state: model.EntitlementState
    ttl: float
    as_of: float | None = None
    fetched: model.EntitlementState | None = None  # the upstream's answer, for Redis, once held


class EntitlementStore:
    """See the module docstring."""

    def __init__(
        self,
        *,
        entries: cache.Cache[model.CustomerKey, model.EntitlementState],
        upstream: base.Upstream | None,
        shared: shared_cache.SharedCache | None,
        ledger: pending.Ledger,
        policy: Policy,
        sidecar_metrics: metrics.Metrics,
        upstream_concurrency: int = 16,
        upstream_queue: int = 1000,
        doubt_wait: float = 2.0,
    ) -> None:
        self._cache = entries
        self._upstream = upstream
        self._shared = shared
        self._ledger = ledger
        self._policy = policy
        self._metrics = sidecar_metrics
        self._live_since: float | None = None
        self._inflight: dict[model.CustomerKey, _Flight] = {}
        self._slots = asyncio.Semaphore(upstream_concurrency)
        self._queue_limit = upstream_queue
        self._queued = 0
        self._watching: dict[model.CustomerKey, _Watch] = {}
        self._doubt_wait = doubt_wait
        self._doubts: dict[model.CustomerKey, asyncio.Event] = {}  # first loads waiting for answers
        self._writes: asyncio.Queue[SharedWrite] = asyncio.Queue(WRITE_QUEUE_LIMIT)
        self._observer: Observer | None = None
        self.loads = 0  # load flights started (one per key however many callers wait)

    def observe(self, observer: Observer) -> None:
        """Tell ``observer`` of every change from now on (one observer per store)."""
        self._observer = observer
        self._cache.listener = observer.entry_changed

    # -- what is held -------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._cache)

    def now(self) -> float:
        """The cache's clock (what ``held_before`` and ``stream_live`` moments are read on)."""
        return self._cache.now()

    @property
    def bytes(self) -> int:
        return self._cache.bytes

    @property
    def has_source(self) -> bool:
        """Whether a miss can be loaded from anywhere (false when offline)."""
        return self._upstream is not None or self._shared is not None

    def lookup(self, key: model.CustomerKey) -> tuple[model.EntitlementState, bool] | None:
        """``(state, is_fresh)`` for a held key (expired entries included); no I/O."""
        return self._cache.get(key, self._live_since)

    def peek(self, key: model.CustomerKey) -> model.EntitlementState | None:
        """The held state, fresh or not, without touching the LRU order or the statistics."""
        return self._cache.peek(key)

    def entry(self, key: model.CustomerKey) -> cache.Entry[model.EntitlementState] | None:
        """The held entry with its expiry and as-of moment, like ``peek``."""
        return self._cache.entry(key)

    @property
    def live_since(self) -> float | None:
        """When the live stream subscribed (entries current as of then are fresh), or None."""
        return self._live_since

    def held_before(self, moment: float) -> list[model.CustomerKey]:
        """The keys whose entries are current only as of before ``moment`` (a resync's list)."""
        return self._cache.held_before(moment)

    def is_held_before(self, key: model.CustomerKey, moment: float) -> bool:
        """Whether the key is held and current only as of before ``moment`` (still to resync)."""
        as_of = self._cache.as_of(key)
        return as_of is not None and as_of < moment

    # -- loads ----------------------------------------------------------------------------------

    def expired_for(self, key: model.CustomerKey) -> float:
        """Seconds since the held entry's TTL ran out (negative while fresh; infinite if not held)."""
        seconds = self._cache.expired_for(key)
        return math.inf if seconds is None else seconds

    async def load(self, key: model.CustomerKey) -> model.EntitlementState:
        """Fill the key from Redis (when fresh enough) or the upstream; shared by concurrent callers.

        Raises ``base.UpstreamError`` or ``model.Offline`` when neither can answer. A caller
        that stops waiting (``asyncio.timeout``) leaves the load going on for the next one.
        """
        return await self._single_flight(key, shared_first=True)

    async def refresh(self, key: model.CustomerKey) -> None:
        """Fetch the key from the upstream (not Redis, which may be as stale) into the cache."""
        await self._single_flight(key, shared_first=False)

    async def reload(self, key: model.CustomerKey) -> bool:
        """Fetch the key from the upstream now, replacing what is held; True if it exists there."""
        loaded = await self._load(key, shared_first=False)
        self._hold(key, loaded)
        await self._share(loaded)
        return loaded.state.exists

    def refresh_soon(self, key: model.CustomerKey, why: str) -> bool:
        """Refresh the key from the upstream in the background (joining a load already in
        flight), whether or not anyone waits for it; a failure is logged (the TTL bounds the
        damage). True if this started a load."""
        if self._upstream is None:
            return False
        started = key not in self._inflight
        flight = self._flight(key, shared_first=False)
        if not flight.background:
            flight.background = True
            flight.task.add_done_callback(functools.partial(_log_failed_refresh, key, why))
        return started

    def settled(self, settled: pending.Settled) -> None:
        """Reports are no longer in doubt: fetches in flight that may predate the upstream's
        answer are repeated, first loads waiting for it go on, and the held customers that got
        a state while in doubt are refetched."""
        for key in settled.customers:
            self._note_change(key)
            waiting = self._doubts.pop(key, None)
            if waiting is not None:
                waiting.set()
        if self._upstream is None:
            return
        for key in settled.refetch:
            if self._cache.peek(key) is not None:
                self.refresh_soon(key, "recheck its usage")

    def _flight(self, key: model.CustomerKey, *, shared_first: bool) -> _Flight:
        """The load of ``key`` in flight, started now if there is none."""
        flight = self._inflight.get(key)
        if flight is None:
            flight = _Flight()
            flight.task = asyncio.get_running_loop().create_task(
                self._fill(key, flight, shared_first=shared_first)
            )
            flight.task.add_done_callback(_retrieve_exception)
            self._inflight[key] = flight
        return flight

    async def _single_flight(self, key: model.CustomerKey, *, shared_first: bool) -> model.EntitlementState:
        flight = self._flight(key, shared_first=shared_first)
        flight.waiters += 1
        try:
            return await asyncio.shield(flight.task)
        finally:
            flight.waiters -= 1
            if not (flight.waiters or flight.background or flight.started or flight.task.done()):
                self._abandon(key, flight)

    def _abandon(self, key: model.CustomerKey, flight: _Flight) -> None:
        """Every caller of a load still queued for the upstream has gone: it never starts."""
        if self._inflight.get(key) is flight:
            del self._inflight[key]
        flight.task.cancel()
        self._metrics.abandoned_loads.inc()

    async def _fill(
        self, key: model.CustomerKey, flight: _Flight, *, shared_first: bool
    ) -> model.EntitlementState:
        self.loads += 1
        try:
            loaded = await self._load(key, shared_first=shared_first, flight=flight)
            self._hold(key, loaded)
            await self._share(loaded)
            return loaded.state
        finally:
            if self._inflight.get(key) is flight:
                del self._inflight[key]

    def _hold(self, key: model.CustomerKey, loaded: _Loaded) -> None:
        """Cache a loaded state, counted by what it holds in memory."""
        size = footprint.of_state(loaded.state)
        self._cache.put(key, loaded.state, size=size, ttl=loaded.ttl, as_of=loaded.as_of)

    async def _share(self, loaded: _Loaded) -> None:
        """Write a fetched state to Redis, after it is held: nothing awaits between a fetch and
        the cache taking its answer (an event or a settled report meanwhile would be lost)."""
        if self._shared is not None and loaded.fetched is not None:
            await self._shared.put(loaded.fetched)

    async def _load(
        self, key: model.CustomerKey, *, shared_first: bool, flight: _Flight | None = None
    ) -> _Loaded:
        """Redis (when configured and fresh enough), else the upstream; Redis again if that fails."""
        shared_entry = None
        if self._shared is not None and shared_first:
            shared_entry = await self._shared.get(key)
            if shared_entry is not None and not self._undecidable(key):
                age = time.time() - shared_entry.fetched_at
                if age < self._policy.ttl:
                    state = self._ledger.apply(shared_entry.state, self._cache.peek(key))
                    return _Loaded(state, self._policy.ttl - age, self._cache.now() - age)
        if self._upstream is None:
            raise model.Offline("the sidecar is offline: there is no upstream to load from")
        try:
            async with self._upstream_slot(flight):
                fetched, as_of = await self._fetch(self._upstream, key)
            if self._undecidable(key) and await self._doubt_settles(key):
                async with self._upstream_slot(flight):
                    fetched, as_of = await self._fetch(self._upstream, key)
        except base.UpstreamError:
            if shared_entry is None:
                raise
            # A stale shared entry beats nothing; keep it briefly, then try the upstream again.
            state = self._ledger.apply(shared_entry.state, self._cache.peek(key))
            return _Loaded(state, self._policy.negative_ttl, -1.0)
        ttl = self._policy.ttl if fetched.exists else self._policy.negative_ttl
        shared = fetched if fetched.exists else None
        return _Loaded(self._ledger.apply(fetched, self._cache.peek(key)), ttl, as_of, shared)

    def _undecidable(self, key: model.CustomerKey) -> bool:
        """An upstream state of ``key`` may or may not include a report in doubt, and nothing is
        held to show meanwhile."""
        return self._ledger.in_doubt(key) and self._cache.peek(key) is None

    async def _doubt_settles(self, key: model.CustomerKey) -> bool:
        """Wait (at most ``doubt_wait``) for the reports of ``key`` in doubt to be answered."""
        waiting = self._doubts.setdefault(key, asyncio.Event())
        try:
            await asyncio.wait_for(waiting.wait(), self._doubt_wait)
        except TimeoutError:
            if self._doubts.get(key) is waiting:
                del self._doubts[key]
            return False
        return True

    @contextlib.asynccontextmanager
    async def _upstream_slot(self, flight: _Flight | None) -> AsyncIterator[None]:
        """One of the bounded upstream slots, waited for in the bounded queue."""
        if self._slots.locked():
            if self._queued >= self._queue_limit:
                self._metrics.upstream_queue_full.inc()
                raise base.QueueFull(f"{self._queued} loads already wait for the upstream")
            self._queued += 1
            try:
                await self._slots.acquire()
            finally:
                self._queued -= 1
        else:
            await self._slots.acquire()
        if flight is not None:
            flight.started = True
        try:
            yield
        finally:
            self._slots.release()

    async def _fetch(
        self, upstream: base.Upstream, key: model.CustomerKey
    ) -> tuple[model.EntitlementState, float]:
        """Fetch, again if an event for the key arrived meanwhile; with the moment the answer
        is current as of."""
        watch = self._watching.setdefault(key, _Watch())
        watch.fetches += 1
        try:
            for _ in range(REFETCHES):
                seen, as_of = watch.changes, self._cache.now()
                fetched = await upstream.fetch(key)
                if watch.changes == seen:
                    break
            return fetched, as_of
        finally:
            watch.fetches -= 1
            if not watch.fetches:
                del self._watching[key]

    # -- the real-time stream -------------------------------------------------------------------

    def stream_live(self, since: float) -> None:
        """The stream subscribed at ``since``: entries current as of then stay fresh."""
        self._live_since = since
        if self._observer is not None:
            self._observer.stream_changed(since)

    def stream_down(self) -> None:
        """The stream dropped: every entry is back under its TTL."""
        self._live_since = None
        if self._observer is not None:
            self._observer.stream_changed(None)

    def replace_entitlements(self, state: model.EntitlementState, *, keep_credits: bool = False) -> bool:
        """An event: the customer's entitlements as the upstream says now (``keep_credits``: and
        the credit balances held, which the event does not say); False if not held."""
        self._note_change(state.key)
        current = self._cache.peek(state.key)
        held = current is not None
        if keep_credits and current is not None:
            state = dataclasses.replace(state, credits=current.credits)
        if held:
            self._hold(state.key, _Loaded(self._ledger.apply(state, current), self._policy.ttl))
        self._write_shared(lambda shared: shared.put(state, only_if_present=not held))
        return held

    def set_usage(
        self,
        key: model.CustomerKey,
        feature_id: str,
        current_usage: float,
        entitlement: model.Entitlement | None,
    ) -> bool:
        """An event: one feature's usage (and entitlement, if sent) as the upstream says now;
        False if not held."""
        self._note_change(key)
        current = self._cache.peek(key)
        kept = current.entitlements.get(feature_id) if current is not None else None
        usage = self._ledger.usage(
            key, feature_id, current_usage, None if kept is None else kept.current_usage
        )
        held = self._cache.update(key, lambda state: state.with_usage_event(feature_id, usage, entitlement))
        self._write_shared(
            lambda shared: shared.update(
                key, lambda stored: stored.with_usage_event(feature_id, current_usage, entitlement)
            )
        )
        return held

    def set_credit_usage(self, key: model.CustomerKey, currency_id: str, current_usage: float) -> bool:
        """An event: one currency's consumed credits as the upstream says now; False if not held."""
        self._note_change(key)
        held = self._cache.update(key, lambda state: state.with_credit_usage(currency_id, current_usage))
        self._write_shared(
            lambda shared: shared.update(
                key, lambda stored: stored.with_credit_usage(currency_id, current_usage)
            )
        )
        return held

    def expire(self, key: model.CustomerKey) -> bool:
        """An event said the customer has no entitlements any more (only a fetch says why): the
        held entry goes stale (it still answers if the refetch fails), Redis forgets it. True if
        it was held."""
        self._note_change(key)
        held = self._cache.peek(key) is not None
        if held:
            self._cache.expire(key)
        self._write_shared(lambda shared: shared.delete(key))
        return held

    def _note_change(self, key: model.CustomerKey) -> None:
        watch = self._watching.get(key)
        if watch is not None:
            watch.changes += 1

    def _write_shared(self, write: SharedWrite) -> None:
        if self._shared is None:
            return
        try:
            self._writes.put_nowait(write)
        except asyncio.QueueFull:
            self._metrics.redis_errors.inc()

    async def write_shared(self) -> None:
        """The Redis writer: applies queued event writes in order, until cancelled."""
        while True:
            write = await self._writes.get()
            if self._shared is not None:
                await write(self._shared)

    # -- local writes ---------------------------------------------------------------------------

    def set_local_usage(self, key: model.CustomerKey, feature_id: str, usage: float) -> None:
        """This sidecar accepted usage: the held state shows it at once (same size and expiry)."""
        self._cache.update(key, lambda state: state.with_usage(feature_id, usage))

    # -- lifecycle ------------------------------------------------------------------------------

    async def close(self) -> None:
        """Cancel the loads still in flight (background refreshes included)."""
        tasks = [flight.task for flight in self._inflight.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _log_failed_refresh(key: model.CustomerKey, why: str, task: asyncio.Task[model.EntitlementState]) -> None:
    if not task.cancelled() and (error := task.exception()) is not None:
        logger.info("could not refresh %s to %s: %s", key.customer_id, why, error)


def _retrieve_exception(task: asyncio.Task[model.EntitlementState]) -> None:
    """Mark a failed load's exception as seen even if every caller had already given up."""
    if not task.cancelled():
        task.exception()
