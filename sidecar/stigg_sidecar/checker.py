"""The check path: cache → upstream on a miss → stale cache → defaults → request fallback → deny.

``Checker`` owns the fail-safe order and nothing else (no wire types, no I/O of its own):

1. a fresh cache entry answers at once (the hot path: a dict lookup and the pure rules);
2. on a miss, one single-flight load fills the cache: from Redis when configured and its entry
   is fresh enough (``shared_cache``), else from the upstream (and written to Redis); unknown
   customers are cached too, for ``negative_ttl``, so they cannot hammer the upstream;
3. if the upstream fails, an expired entry still answers (stale-if-error);
4. with no entry at all: the static default for the feature (is_fallback), then the
   request's own fallback option (is_fallback), and only then a denial with a reason.

``OFFLINE=true`` (no upstream) goes straight to step 4.

While the real-time stream is live (``live_since`` is set, by ``realtime.Follower``), an entry
current as of the moment the stream subscribed stays fresh past its TTL: the stream's events
keep it current (``apply_entitlements``, ``apply_usage``). A fetch that an event overtakes
(the event arrived while the fetch was in flight, so its answer may predate the change) is
repeated, so an older answer never overwrites a newer event.

Usage accepted into the outbox but not yet acknowledged by the upstream is *pending*: every
state that comes from the upstream (a fetch, Redis, an event) has the pending reports of its
customer replayed on top (DELTA adds, SET replaces, in order), so a refetch after an outage, a
resync or a restart (the outbox's rows are read back at start) never shows less usage than the
sidecar already accepted. A report leaves the pending set once the upstream has it (``settle``).
While a report is on its way (``sending``), an upstream state may already include it; a
customer that received one then is refetched once its reports are settled, so the replay
never counts a report twice for longer than that round trip.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
import uuid
from collections.abc import Callable, Sequence

from stigg_sidecar import cache, defaults, metrics, model, outbox, semantics, shared_cache
from stigg_sidecar.upstream import base

logger = logging.getLogger(__name__)
_REFETCHES = 3  # how many times an overtaken fetch is repeated before its answer is taken anyway


@dataclasses.dataclass(slots=True)
class _PendingReport:
    idempotency_key: str
    value: float
    set_total: bool
    sent: bool = False  # on its way upstream: an upstream state may include it already


@dataclasses.dataclass(slots=True)
class _Watch:
    """Fetches in flight for one key, and how many events for it arrived meanwhile."""

    fetches: int = 0
    changes: int = 0


@dataclasses.dataclass(frozen=True, slots=True)
class Policy:
    ttl: float
    negative_ttl: float


class Checker:
    def __init__(
        self,
        *,
        upstream: base.Upstream | None,
        store: cache.Cache[model.CustomerKey, model.EntitlementState],
        static_defaults: defaults.Defaults,
        policy: Policy,
        sidecar_metrics: metrics.Metrics,
        shared: shared_cache.SharedCache | None = None,
        usage_outbox: outbox.Outbox | None = None,
    ) -> None:
        self.upstream = upstream
        self.shared = shared
        self.outbox = usage_outbox
        self.on_outbox_added: Callable[[], None] = lambda: None
        self.cache = store
        self.defaults = static_defaults
        self.policy = policy
        self.metrics = sidecar_metrics
        self.live_since: float | None = None
        self._watching: dict[model.CustomerKey, _Watch] = {}
        self._pending: dict[model.CustomerKey, dict[str, list[_PendingReport]]] = {}
        self._recheck: set[model.CustomerKey] = set()  # got an upstream state while a report was sent
        self._rechecks: set[asyncio.Task[None]] = set()

    # -- pending usage ------------------------------------------------------------------------

    def pend(self, reports: Sequence[base.UsageReport]) -> None:
        """Reports accepted into the outbox: replayed on upstream states until settled."""
        for report in reports:
            features = self._pending.setdefault(model.CustomerKey(report.customer_id, report.resource_id), {})
            features.setdefault(report.feature_id, []).append(
                _PendingReport(report.idempotency_key or "", report.value, report.set_total)
            )

    def _entries(self, report: base.UsageReport) -> list[_PendingReport]:
        key = model.CustomerKey(report.customer_id, report.resource_id)
        return (self._pending.get(key) or {}).get(report.feature_id) or []

    def sending(self, reports: Sequence[base.UsageReport]) -> None:
        """The drainer is sending these: from now on an upstream state may include them."""
        for report in reports:
            for entry in self._entries(report):
                if entry.idempotency_key == report.idempotency_key:
                    entry.sent = True

    def settle(self, reports: Sequence[base.UsageReport]) -> None:
        """Reports the upstream acknowledged (or refused for good): no longer pending."""
        touched = set()
        for report in reports:
            key = model.CustomerKey(report.customer_id, report.resource_id)
            features = self._pending.get(key)
            entries = features.get(report.feature_id) if features else None
            if entries is None or features is None:
                continue
            touched.add(key)
            entries[:] = [e for e in entries if e.idempotency_key != report.idempotency_key]
            if not entries:
                del features[report.feature_id]
                if not features:
                    del self._pending[key]
        for key in touched & self._recheck:
            if any(e.sent for entries in (self._pending.get(key) or {}).values() for e in entries):
                continue  # more on their way: recheck after those
            self._recheck.discard(key)
            if self.cache.peek(key) is not None and self.upstream is not None:
                task = asyncio.get_running_loop().create_task(self._recheck_one(key))
                self._rechecks.add(task)
                task.add_done_callback(self._rechecks.discard)

    async def _recheck_one(self, key: model.CustomerKey) -> None:
        try:
            await self.refresh(key)
        except base.UpstreamError as error:
            logger.info("could not recheck the usage of %s: %s", key.customer_id, error)

    def _replayed(self, key: model.CustomerKey, feature_id: str, usage: float) -> float:
        for entry in (self._pending.get(key) or {}).get(feature_id, ()):
            usage = entry.value if entry.set_total else usage + entry.value
            if entry.sent:
                self._recheck.add(key)
        return usage

    def _with_pending(self, state: model.EntitlementState) -> model.EntitlementState:
        """An upstream state with this sidecar's pending usage replayed on top."""
        for feature_id in self._pending.get(state.key) or ():
            entitlement = state.entitlements.get(feature_id)
            if entitlement is not None:
                usage = self._replayed(state.key, feature_id, entitlement.current_usage)
                state = state.with_usage(feature_id, usage)
        return state

    async def _load(
        self, key: model.CustomerKey, *, shared_first: bool = True
    ) -> cache.Loaded[model.EntitlementState]:
        """Redis (when configured and fresh enough), else the upstream; Redis again if that fails."""
        shared_entry = None
        if self.shared is not None and shared_first:
            shared_entry = await self.shared.get(key)
            if shared_entry is not None:
                age = time.time() - shared_entry.fetched_at
                if age < self.policy.ttl:
                    return cache.Loaded(
                        self._with_pending(shared_entry.state),
                        shared_entry.size,
                        self.policy.ttl - age,
                        self.cache.now() - age,
                    )
        if self.upstream is None:
            raise base.UpstreamUnavailable("offline")
        try:
            fetched, as_of = await self._fetch(key)
        except base.UpstreamError:
            if shared_entry is None:
                raise
            # A stale shared entry beats nothing; keep it briefly, then try the upstream again.
            return cache.Loaded(
                self._with_pending(shared_entry.state), shared_entry.size, self.policy.negative_ttl, -1.0
            )
        if self.shared is not None and fetched.state.exists:
            await self.shared.put(fetched.state, fetched.size)
        ttl = self.policy.ttl if fetched.state.exists else self.policy.negative_ttl
        return cache.Loaded(self._with_pending(fetched.state), fetched.size, ttl, as_of)

    async def _fetch(self, key: model.CustomerKey) -> tuple[base.Fetched, float]:
        """Fetch from the upstream, again if an event for the key arrived meanwhile; with the
        moment the answer is current as of."""
        assert self.upstream is not None  # noqa: S101 -- _load checked it
        watch = self._watching.setdefault(key, _Watch())
        watch.fetches += 1
        try:
            for _ in range(_REFETCHES):
                seen, as_of = watch.changes, self.cache.now()
                fetched = await self.upstream.fetch(key)
                if watch.changes == seen:
                    break
            return fetched, as_of
        finally:
            watch.fetches -= 1
            if not watch.fetches:
                del self._watching[key]

    def note_change(self, key: model.CustomerKey) -> None:
        """An event for ``key`` arrived: a fetch of it in flight may predate it."""
        watch = self._watching.get(key)
        if watch is not None:
            watch.changes += 1

    def apply_entitlements(self, state: model.EntitlementState) -> bool:
        """Replace a held customer's entitlements with the upstream's (an event); False if not held."""
        self.note_change(state.key)
        size = self.cache.size_of(state.key)
        if size is None:
            return False
        self.cache.put(state.key, self._with_pending(state), size=size, ttl=self.policy.ttl)
        return True

    def apply_usage(
        self,
        key: model.CustomerKey,
        feature_id: str,
        current_usage: float,
        entitlement: model.Entitlement | None,
    ) -> bool:
        """Set a held customer's usage of one feature to the upstream's (an event); False if not held."""
        self.note_change(key)
        usage = self._replayed(key, feature_id, current_usage)
        return self.cache.update(key, lambda state: state.with_usage_event(feature_id, usage, entitlement))

    async def refresh(self, key: model.CustomerKey) -> None:
        """Fetch the key from the upstream (not Redis, which may be as stale) into the cache."""
        await self.cache.load(key, lambda: self._load(key, shared_first=False))

    async def state(self, key: model.CustomerKey) -> model.EntitlementState | None:
        """The freshest entitlement state available, or None when nothing is known."""
        hit = self.cache.get(key, self.live_since)
        if hit is not None and hit[1]:
            self.metrics.cache_hits.inc()
            return hit[0]
        self.metrics.cache_misses.inc()
        if self.upstream is None and self.shared is None:
            return None
        try:
            return await self.cache.load(key, lambda: self._load(key))
        except base.UpstreamError as error:
            if hit is not None:
                self.metrics.stale_served.inc()
                return hit[0]
            logger.warning("no entitlements for %s: %s", key.customer_id, error)
            return None

    async def check(
        self,
        key: model.CustomerKey,
        feature_id: str,
        kind: model.CheckKind,
        *,
        requested_usage: float | None = None,
        requested_values: Sequence[str] = (),
        request_fallback: defaults.FeatureDefault | None = None,
    ) -> semantics.Decision:
        state = await self.state(key)
        if state is not None:
            return semantics.evaluate(state, feature_id, kind, requested_usage, requested_values)
        return self.fallback(feature_id, kind, requested_usage, requested_values, request_fallback)

    def fallback(
        self,
        feature_id: str,
        kind: model.CheckKind,
        requested_usage: float | None,
        requested_values: Sequence[str],
        request_fallback: defaults.FeatureDefault | None,
    ) -> semantics.Decision:
        """Steps 4 and 5 of the module docstring, for a check with nothing known about the customer."""
        configured = self.defaults.get(feature_id)
        if configured is not None:
            self.metrics.fallback["defaults"].inc()
            return configured.decide(feature_id, kind, requested_usage, requested_values)
        if request_fallback is not None:
            self.metrics.fallback["request"].inc()
            return request_fallback.decide(feature_id, kind, requested_usage, requested_values)
        self.metrics.fallback["none"].inc()
        return semantics.Decision(
            has_access=False,
            denied_reason=model.DeniedReason.UNKNOWN,
            entitlement=None,
            is_fallback=True,
            requested_usage=requested_usage or 0.0,
            requested_values=tuple(requested_values),
        )

    async def reload(self, key: model.CustomerKey) -> bool:
        """Drop the cached state and fetch it again; True if the customer exists upstream."""
        if self.upstream is None:
            raise base.UpstreamUnavailable("the sidecar is offline: there is nothing to reload from")
        loaded = await self._load(key, shared_first=False)
        self.cache.put(key, loaded.value, size=loaded.size, ttl=loaded.ttl, as_of=loaded.as_of)
        return loaded.value.exists

    async def report_usage(self, reports: Sequence[base.UsageReport]) -> list[base.UsageResult]:
        """Accept usage: into the durable outbox (answered once committed, sent upstream in order)
        when there is one, else straight upstream; either way the cached usage moves at once."""
        if self.upstream is None:
            raise base.UpstreamUnavailable("the sidecar is offline: usage cannot be reported")
        if self.outbox is None:
            results = await self.upstream.report_usage(reports)
            for result in results:
                if result.current_usage is not None:
                    self._apply_usage(
                        result.customer_id, result.resource_id, result.feature_id, result.current_usage
                    )
            return results
        keyed = [
            dataclasses.replace(r, idempotency_key=r.idempotency_key or str(uuid.uuid4())) for r in reports
        ]
        await self.outbox.add_usage(keyed)
        self.pend(keyed)
        self.on_outbox_added()
        return [self._apply_locally(report) for report in keyed]

    def _apply_locally(self, report: base.UsageReport) -> base.UsageResult:
        key = model.CustomerKey(report.customer_id, report.resource_id)
        state = self.cache.peek(key)
        entitlement = None if state is None else state.entitlements.get(report.feature_id)
        usage = None
        if entitlement is not None:
            usage = report.value if report.set_total else entitlement.current_usage + report.value
            self._apply_usage(report.customer_id, report.resource_id, report.feature_id, usage)
        return base.UsageResult(
            measurement_id=report.idempotency_key or "",
            customer_id=report.customer_id,
            feature_id=report.feature_id,
            resource_id=report.resource_id,
            current_usage=usage,
            usage_period_start=None if entitlement is None else entitlement.usage_period_start,
            usage_period_end=None if entitlement is None else entitlement.usage_period_end,
        )

    def _apply_usage(self, customer_id: str, resource_id: str | None, feature_id: str, usage: float) -> None:
        def change(state: model.EntitlementState) -> model.EntitlementState:
            return state.with_usage(feature_id, usage)

        self.cache.update(model.CustomerKey(customer_id, resource_id), change)

    async def report_events(self, events: Sequence[base.UsageEvent]) -> None:
        if self.upstream is None:
            raise base.UpstreamUnavailable("the sidecar is offline: events cannot be reported")
        if self.outbox is None:
            await self.upstream.report_events(events)
            return
        await self.outbox.add_events(events)
        self.on_outbox_added()
