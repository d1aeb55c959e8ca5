"""Following the real-time stream: events into the cache and Redis, and a resync after every gap.

``Follower`` is the ``upstream.stream.Listener`` of the sidecar's ``StreamClient``:

* **connected(since)**: the stream is live. The checker's ``live_since`` is set, so entries
  current as of ``since`` stay fresh while events keep them so; every entry held from before
  ``since`` (fetched before the first connection, or before a gap, when events may have been
  missed) is refreshed from the upstream in the background, a bounded number at a time, in up
  to ``RESYNC_ROUNDS`` rounds for the ones whose refresh failed. Until refreshed, those entries
  answer under their TTL as before.
* **disconnected()**: ``live_since`` is cleared: every entry is back under its TTL, as with
  ``WS_ENABLED=false``. A running resync is cancelled (the next connection starts a new one).
* **event(...)**: applied to the cache at once (synchronously, in arrival order): an
  ``entitlementsUpdated`` replaces the customer's entitlements, a ``usageUpdated`` sets one
  feature's usage. An ``entitlementsUpdated`` with no entitlements (the customer was deleted,
  archived or lost its subscription: only a fetch says which) expires the entry and refetches
  it. Events for customers the sidecar does not hold change nothing locally.

With Redis configured, each event is also written there, in order, by one writer task behind a
bounded queue (Redis is best effort: when the queue is full the write is skipped and counted as
a Redis error, and the entry's TTL bounds the staleness). Redis gets what the upstream said,
never the local view with this sidecar's pending usage replayed in: whoever reads it (another
replica, or this one after a restart) replays its own pending usage on top.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from stigg_sidecar import checker, metrics, model, shared_cache
from stigg_sidecar.upstream import base, parse

logger = logging.getLogger(__name__)

RESYNC_CONCURRENCY = 16
RESYNC_ROUNDS = 3
RESYNC_RETRY_SECONDS = 1.0
WRITE_QUEUE_LIMIT = 10_000

SharedWrite = Callable[[shared_cache.SharedCache], Awaitable[None]]


class Follower:
    def __init__(self, entitlements: checker.Checker, sidecar_metrics: metrics.Metrics) -> None:
        self.checker = entitlements
        self.metrics = sidecar_metrics
        self._resync: asyncio.Task[None] | None = None
        self._refreshes: set[asyncio.Task[bool]] = set()
        self._writes: asyncio.Queue[SharedWrite] = asyncio.Queue(WRITE_QUEUE_LIMIT)

    # -- Listener ---------------------------------------------------------------------------

    def connected(self, since: float) -> None:
        self.checker.live_since = since
        self._cancel_resync()
        self._resync = asyncio.get_running_loop().create_task(self._resync_from(since))

    def disconnected(self) -> None:
        self.checker.live_since = None
        self._cancel_resync()

    def event(self, event: parse.StreamEvent) -> None:
        if isinstance(event, parse.EntitlementsUpdated):
            self._entitlements_updated(event)
        else:
            self._usage_updated(event)

    # -- events -------------------------------------------------------------------------------

    def _entitlements_updated(self, event: parse.EntitlementsUpdated) -> None:
        key = event.key
        if not event.entitlements:
            self.checker.note_change(key)
            if self.checker.cache.peek(key) is not None:
                self.checker.cache.expire(key)
                self._refresh_soon(key)
            self._write(lambda shared: shared.delete(key))
            return
        state = model.EntitlementState(key=key, entitlements={e.feature.id: e for e in event.entitlements})
        held = self.checker.apply_entitlements(state)
        size = self.checker.cache.size_of(key) or _estimated_size(state)
        # An entry no replica asked for is not created by an event: only replaced.
        self._write(lambda shared: shared.put(state, size, only_if_present=not held))

    def _usage_updated(self, event: parse.UsageUpdated) -> None:
        self.checker.apply_usage(event.key, event.feature_id, event.current_usage, event.entitlement)
        self._write(
            lambda shared: shared.update(
                event.key,
                lambda stored: stored.with_usage_event(
                    event.feature_id, event.current_usage, event.entitlement
                ),
            )
        )

    def _write(self, write: SharedWrite) -> None:
        if self.checker.shared is None:
            return
        try:
            self._writes.put_nowait(write)
        except asyncio.QueueFull:
            self.metrics.redis_errors.inc()

    async def write_shared(self) -> None:
        """The Redis writer: applies queued event writes in order, until cancelled."""
        while True:
            write = await self._writes.get()
            if self.checker.shared is not None:
                await write(self.checker.shared)

    # -- refreshes ----------------------------------------------------------------------------

    def _refresh_soon(self, key: model.CustomerKey) -> None:
        task = asyncio.get_running_loop().create_task(self._refresh(key))
        self._refreshes.add(task)
        task.add_done_callback(self._refreshes.discard)

    async def _refresh(self, key: model.CustomerKey) -> bool:
        try:
            await self.checker.refresh(key)
        except base.UpstreamError as error:
            logger.info("could not refresh %s after an event: %s", key.customer_id, error)
            return False
        return True

    async def _resync_from(self, since: float) -> None:
        self.metrics.resyncs.inc()
        limit = asyncio.Semaphore(RESYNC_CONCURRENCY)

        async def refresh(key: model.CustomerKey) -> bool:
            async with limit:
                refreshed = await self._refresh(key)
            if refreshed:
                self.metrics.resynced_entries.inc()
            return refreshed

        for round_number in range(RESYNC_ROUNDS):
            keys = self.checker.cache.held_before(since)
            if not keys:
                break
            if round_number:
                await asyncio.sleep(RESYNC_RETRY_SECONDS)
            results = await asyncio.gather(*(refresh(key) for key in keys))
            logger.info("resync: refreshed %d of %d held entries", sum(results), len(keys))
        else:
            left = len(self.checker.cache.held_before(since))
            if left:
                logger.warning("resync: %d entries could not be refreshed; they follow their TTL", left)

    def _cancel_resync(self) -> None:
        if self._resync is not None and not self._resync.done():
            self._resync.cancel()
        self._resync = None

    async def close(self) -> None:
        self._cancel_resync()
        for task in list(self._refreshes):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _estimated_size(state: model.EntitlementState) -> int:
    """Roughly the bytes of the upstream body such a state is parsed from (the cache's measure)."""
    return 256 + 600 * len(state.entitlements)
