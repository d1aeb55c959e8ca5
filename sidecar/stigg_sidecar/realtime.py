"""Following the real-time stream: events into the cache and Redis, and a resync after every gap.

``Follower`` is the ``upstream.stream.Listener`` of the sidecar's ``StreamClient``:

* **connected(since)**: the stream is live. The store is told (``stream_live``), so entries
  current as of ``since`` stay fresh while events keep them so; every entry held from before
  ``since`` (fetched before the first connection, or before a gap, when events may have been
  missed) is refreshed from the upstream in the background (the resync), in up to
  ``RESYNC_ROUNDS`` rounds for the ones whose refresh failed. Until refreshed, those entries
  answer under their TTL as before.
* **disconnected()**: the store is told (``stream_down``): every entry is back under its TTL,
  as with ``WS_ENABLED=false``. A running resync is cancelled (the next connection starts a new one).
* **event(...)**: applied to the store at once (synchronously, in arrival order): an
  entitlements event replaces the customer's state (features, credit currencies, and the
  state's denial reason if it gives one), a usage event sets one feature's usage or one
  currency's consumed credits. An entitlements event with no entitlements and no reason (the
  customer was deleted, archived or lost its subscription: only a fetch says which) expires
  the entry and refetches it. A ``packagePublished`` that moves existing customers
  (``ALL_CUSTOMERS``) refreshes everything held, as a resync does (which customers are on the
  package, the sidecar cannot tell), while the held entries go on answering. Events for
  customers the sidecar does not hold change nothing locally.

**A resync is spread** (``ResyncPolicy``), because every replica of a fleet reconnects at about
the same moment after an upstream blip and would otherwise refetch everything it holds at once:
it starts after a random delay within ``jitter`` seconds (``SIDECAR_RESYNC_JITTER_SECONDS``), so
the replicas' resyncs do not begin together, then refreshes at most ``rate`` entries a second
(``SIDECAR_RESYNC_RATE``, a ``pacing.TokenBucket``), at most ``concurrency`` at a time (half the
upstream slots, so that on-demand loads always keep the other half, however slow the upstream).
The most recently used entries go first; an entry refreshed meanwhile by other means (a check's
load, an entitlements event) or evicted is skipped. Only this background work is paced: a check
that misses still loads on demand at once, and held entries answer meanwhile. The same applies
to the refresh of everything after a ``packagePublished`` to every customer, which reaches
every replica at the same moment too.

The store also writes each event to Redis, in order (see ``store``). This module decides what
an event means and when to resync; the store holds the state.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
import time
from collections.abc import Awaitable, Callable

from stigg_sidecar import metrics, model, pacing, store
from stigg_sidecar.upstream import base, parse

logger = logging.getLogger(__name__)

RESYNC_CONCURRENCY = 16
RESYNC_ROUNDS = 3
RESYNC_RETRY_SECONDS = 1.0


@dataclasses.dataclass(frozen=True)
class ResyncPolicy:
    """How a resync is spread: it starts after a random delay of up to ``jitter`` seconds, then
    refreshes at most ``rate`` entries a second (0: no limit), at most ``concurrency`` at once."""

    jitter: float = 0.0
    rate: float = 0.0
    concurrency: int = RESYNC_CONCURRENCY

    def __post_init__(self) -> None:
        if self.jitter < 0 or self.rate < 0 or self.concurrency < 1:
            raise ValueError(f"invalid resync policy {self!r}")


IMMEDIATE = ResyncPolicy()  # no jitter, no rate limit: every held entry at once, 16 at a time


class Follower:
    def __init__(
        self,
        entitlements: store.EntitlementStore,
        sidecar_metrics: metrics.Metrics,
        resync: ResyncPolicy = IMMEDIATE,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        draw: pacing.Draw = random.uniform,
    ) -> None:
        self._store = entitlements
        self._metrics = sidecar_metrics
        self._policy = resync
        self._clock = clock  # the rate limit's clock, how the resync waits, and its jitter's draw
        self._sleep = sleep
        self._draw = draw
        self._resync: asyncio.Task[None] | None = None

    # -- Listener ---------------------------------------------------------------------------

    def connected(self, since: float) -> None:
        self._store.stream_live(since)
        self._cancel_resync()
        self._resync = asyncio.get_running_loop().create_task(self._resync_from(since))

    def disconnected(self) -> None:
        self._store.stream_down()
        self._cancel_resync()

    def event(self, event: parse.StreamEvent) -> None:
        if isinstance(event, parse.UsageUpdated):
            self._store.set_usage(event.key, event.feature_id, event.current_usage, event.entitlement)
        elif isinstance(event, parse.CreditUsageUpdated):
            self._store.set_credit_usage(event.key, event.currency_id, event.current_usage)
        elif isinstance(event, parse.PackagePublished):
            if event.all_customers:
                logger.info("package %s was published to every customer: refreshing", event.package_ref_id)
                self._cancel_resync()
                self._resync = asyncio.get_running_loop().create_task(self._resync_from(self._store.now()))
        elif not event.entitlements and not event.credits and event.denied_reason is None:
            if self._store.expire(event.key):
                self._store.refresh_soon(event.key, "learn why its entitlements are gone")
        else:
            self._store.replace_entitlements(
                model.EntitlementState(
                    key=event.key,
                    entitlements={e.feature.id: e for e in event.entitlements},
                    denied_reason=event.denied_reason,
                    credits={c.currency.id: c for c in event.credits},
                ),
                keep_credits=not event.with_credits,  # a legacy event says nothing about credits
            )

    # -- resync ---------------------------------------------------------------------------------

    async def _refresh(self, key: model.CustomerKey) -> bool:
        try:
            await self._store.refresh(key)
        except (base.UpstreamError, model.Offline) as error:
            logger.info("resync: could not refresh %s: %s", key.customer_id, error)
            return False
        return True

    async def _resync_from(self, since: float) -> None:
        self._metrics.resyncs.inc()
        policy = self._policy
        delay = pacing.start_delay(policy.jitter, self._draw)
        if delay > 0:
            logger.info("resync: starting in %.1fs (jitter up to %gs)", delay, policy.jitter)
            await self._sleep(delay)
        bucket = pacing.TokenBucket(policy.rate, clock=self._clock) if policy.rate > 0 else None
        for round_number in range(RESYNC_ROUNDS):
            keys = self._store.held_before(since)
            if not keys:
                break
            if round_number:
                await self._sleep(RESYNC_RETRY_SECONDS)
            else:
                logger.info(
                    "resync: refreshing %d held entries%s",
                    len(keys),
                    f", {policy.rate:g} a second (about {len(keys) / policy.rate:.0f}s)" if bucket else "",
                )
            refreshed, tried = await self._refresh_all(keys, since, bucket)
            logger.info("resync: refreshed %d of %d held entries", refreshed, tried)
        else:
            left = len(self._store.held_before(since))
            if left:
                logger.warning("resync: %d entries could not be refreshed; they follow their TTL", left)

    async def _refresh_all(
        self, keys: list[model.CustomerKey], since: float, bucket: pacing.TokenBucket | None
    ) -> tuple[int, int]:
        """Refresh the keys still held from before ``since``, the most recently used first,
        paced by ``bucket`` and the concurrency cap: (refreshed, tried)."""
        slots = asyncio.Semaphore(self._policy.concurrency)
        outcomes: list[bool] = []

        async def refresh(key: model.CustomerKey) -> None:
            try:
                refreshed = await self._refresh(key)
            finally:
                slots.release()
            if refreshed:
                self._metrics.resynced_entries.inc()
            outcomes.append(refreshed)

        async with asyncio.TaskGroup() as group:
            for key in reversed(keys):  # held_before lists the least recently used first
                if not self._store.is_held_before(key, since):
                    continue  # refreshed meanwhile (a check's load, an event), or evicted
                await slots.acquire()
                wait = bucket.reserve() if bucket is not None else 0.0
                if wait > 0:
                    await self._sleep(wait)
                if not self._store.is_held_before(key, since):  # refreshed while this waited
                    slots.release()
                    continue
                group.create_task(refresh(key))
        return sum(outcomes), len(outcomes)

    def _cancel_resync(self) -> None:
        if self._resync is not None and not self._resync.done():
            self._resync.cancel()
        self._resync = None

    async def close(self) -> None:
        resync, self._resync = self._resync, None
        if resync is not None:
            resync.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await resync
