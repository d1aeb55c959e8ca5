"""Following the real-time stream: events into the cache and Redis, and a resync after every gap.

``Follower`` is the ``upstream.stream.Listener`` of the sidecar's ``StreamClient``:

* **connected(since)**: the stream is live. The store is told (``stream_live``), so entries
  current as of ``since`` stay fresh while events keep them so; every entry held from before
  ``since`` (fetched before the first connection, or before a gap, when events may have been
  missed) is refreshed from the upstream in the background, a bounded number at a time, in up
  to ``RESYNC_ROUNDS`` rounds for the ones whose refresh failed. Until refreshed, those entries
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

The store also writes each event to Redis, in order (see ``store``). This module decides what
an event means and when to resync; the store holds the state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from stigg_sidecar import metrics, model, store
from stigg_sidecar.upstream import base, parse

logger = logging.getLogger(__name__)

RESYNC_CONCURRENCY = 16
RESYNC_ROUNDS = 3
RESYNC_RETRY_SECONDS = 1.0


class Follower:
    def __init__(self, entitlements: store.EntitlementStore, sidecar_metrics: metrics.Metrics) -> None:
        self._store = entitlements
        self._metrics = sidecar_metrics
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
        limit = asyncio.Semaphore(RESYNC_CONCURRENCY)

        async def refresh(key: model.CustomerKey) -> bool:
            async with limit:
                refreshed = await self._refresh(key)
            if refreshed:
                self._metrics.resynced_entries.inc()
            return refreshed

        for round_number in range(RESYNC_ROUNDS):
            keys = self._store.held_before(since)
            if not keys:
                break
            if round_number:
                await asyncio.sleep(RESYNC_RETRY_SECONDS)
            results = await asyncio.gather(*(refresh(key) for key in keys))
            logger.info("resync: refreshed %d of %d held entries", sum(results), len(keys))
        else:
            left = len(self._store.held_before(since))
            if left:
                logger.warning("resync: %d entries could not be refreshed; they follow their TTL", left)

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
