"""The read path: held state → a load on a miss → stale state → defaults → request fallback → deny.

``Checker`` owns the fail-safe order and nothing else (no wire types, no I/O of its own):

1. a fresh entry of the store answers at once (the hot path: a dict lookup and the pure rules);
   so does an entry expired for less than ``max_stale`` seconds, while the store refreshes it
   in the background (stale-while-revalidate): a slow upstream never delays a held customer;
2. on a miss (or an entry expired for longer), the store loads the customer (Redis, else the
   upstream; one load per customer however many checks wait for it), waited for at most the
   caller's remaining deadline less a margin, or ``wait_limit``, whichever is first (the load
   goes on and fills the store for the next check);
3. if the load fails or takes too long, the held entry still answers even if expired
   (stale-if-error);
4. with nothing held: the static default for the feature (is_fallback), then the request's own
   fallback option (is_fallback), and only then a denial with a reason.

A credit check (``check_credit``: a currency's balance) follows the same order; its static
default is the entry named by the currency id, its request fallback the metered one.

``OFFLINE=true`` (no upstream, no Redis) goes straight to step 4. What is held, and how it is
kept current, is the store's (``store``); the rules that turn a state into an answer are
``semantics``'.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from stigg_sidecar import defaults, metrics, model, semantics, store
from stigg_sidecar.upstream import base

logger = logging.getLogger(__name__)


class Checker:
    def __init__(
        self,
        *,
        entitlements: store.EntitlementStore,
        static_defaults: defaults.Defaults,
        sidecar_metrics: metrics.Metrics,
        max_stale: float = 0.0,
        wait_limit: float | None = None,
    ) -> None:
        self._store = entitlements
        self._defaults = static_defaults
        self._metrics = sidecar_metrics
        self._max_stale = max_stale
        self._wait_limit = wait_limit

    async def state(
        self, key: model.CustomerKey, *, time_remaining: float | None = None
    ) -> model.EntitlementState | None:
        """The freshest entitlement state available in time, or None when nothing is known.

        ``time_remaining``: the caller's deadline, in seconds from now (None: no deadline).
        """
        hit = self._store.lookup(key)
        if hit is not None and hit[1]:
            self._metrics.cache_hits.inc()
            return hit[0]
        self._metrics.cache_misses.inc()
        if not self._store.has_source:
            return None
        if hit is not None and self._store.expired_for(key) < self._max_stale:
            if self._store.refresh_soon(key, "revalidate an expired entry"):
                self._metrics.revalidations.inc()
            self._metrics.stale_served.inc()
            return hit[0]
        try:
            async with asyncio.timeout(self._wait(time_remaining)):
                return await self._store.load(key)
        except (base.UpstreamError, model.Offline, TimeoutError) as error:
            if isinstance(error, TimeoutError):
                self._metrics.load_deadlines.inc()
            if hit is not None:
                self._metrics.stale_served.inc()
                return hit[0]
            logger.warning(
                "no entitlements for %s: %s", key.customer_id, str(error) or "its deadline came first"
            )
            return None

    def _wait(self, time_remaining: float | None) -> float | None:
        """How long a check may wait for a load: its deadline less a margin (a fifth of what is
        left, at most 0.1 s), or the wait limit, whichever is first."""
        if time_remaining is None:
            return self._wait_limit
        budget = max(0.0, time_remaining - min(0.1, time_remaining / 5))
        return budget if self._wait_limit is None else min(budget, self._wait_limit)

    async def check(
        self,
        key: model.CustomerKey,
        feature_id: str,
        kind: model.CheckKind,
        *,
        requested_usage: float | None = None,
        requested_values: Sequence[str] = (),
        request_fallback: defaults.FeatureDefault | None = None,
        time_remaining: float | None = None,
    ) -> semantics.Decision:
        state = await self.state(key, time_remaining=time_remaining)
        if state is not None:
            return semantics.evaluate(state, feature_id, kind, requested_usage, requested_values)
        return self.fallback(feature_id, kind, requested_usage, requested_values, request_fallback)

    async def check_credit(
        self,
        key: model.CustomerKey,
        currency_id: str,
        *,
        requested: float | None = None,
        request_fallback: defaults.FeatureDefault | None = None,
        time_remaining: float | None = None,
    ) -> semantics.Decision:
        state = await self.state(key, time_remaining=time_remaining)
        if state is not None:
            return semantics.evaluate_credit(state, currency_id, requested)
        return self._fallback(
            currency_id,
            lambda default: default.decide_credit(currency_id, requested),
            request_fallback,
            requested,
            (),
        )

    def fallback(
        self,
        feature_id: str,
        kind: model.CheckKind,
        requested_usage: float | None,
        requested_values: Sequence[str],
        request_fallback: defaults.FeatureDefault | None,
    ) -> semantics.Decision:
        """Step 4 of the module docstring, for a check with nothing known about the customer."""
        return self._fallback(
            feature_id,
            lambda default: default.decide(feature_id, kind, requested_usage, requested_values),
            request_fallback,
            requested_usage,
            requested_values,
        )

    def _fallback(
        self,
        name: str,
        decide: Callable[[defaults.FeatureDefault], semantics.Decision],
        request_fallback: defaults.FeatureDefault | None,
        requested_usage: float | None,
        requested_values: Sequence[str],
    ) -> semantics.Decision:
        configured = self._defaults.get(name)
        if configured is not None:
            self._metrics.fallback["defaults"].inc()
            return decide(configured)
        if request_fallback is not None:
            self._metrics.fallback["request"].inc()
            return decide(request_fallback)
        self._metrics.fallback["none"].inc()
        return semantics.Decision(
            has_access=False,
            denied_reason=model.DeniedReason.UNKNOWN,
            entitlement=None,
            is_fallback=True,
            requested_usage=requested_usage or 0.0,
            requested_values=tuple(requested_values),
        )

    def static_defaults(self) -> list[tuple[str, defaults.FeatureDefault]]:
        """The static defaults, by feature id: what a customer with nothing known gets."""
        return self._defaults.items()

    async def reload(self, key: model.CustomerKey) -> bool:
        """Drop the held state and fetch it again; True if the customer exists upstream."""
        return await self._store.reload(key)
