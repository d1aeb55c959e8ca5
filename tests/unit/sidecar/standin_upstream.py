"""An in-process stand-in for ``StiggUpstream`` (named as such), for tests of the read path's
and the store's logic that must decide exactly when each fetch answers and what it says."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence

from stigg_sidecar import cache, checker, defaults, metrics, model, pending, store

KEY = model.CustomerKey("customer-1")
SEATS = model.Feature("feature-seats", model.FeatureType.NUMBER, model.MeterType.FLUCTUATING)


def state(limit: float, usage: float = 0.0) -> model.EntitlementState:
    return model.EntitlementState(
        KEY, {SEATS.id: model.Entitlement(SEATS, usage_limit=limit, current_usage=usage)}
    )


class StandInUpstream:
    """Answers the limit and usage current when a fetch *arrives*; with ``hold_first``, the
    first answer waits until ``release`` is set (a slow response racing an event)."""

    def __init__(self, *, hold_first: bool = False) -> None:
        self.limit = 5.0
        self.usage = 0.0
        self.fetches = 0
        self.release = asyncio.Event()
        if not hold_first:
            self.release.set()

    async def fetch(self, key: model.CustomerKey) -> model.EntitlementState:
        answer = state(self.limit, self.usage)
        self.fetches += 1
        if self.fetches == 1:
            await self.release.wait()
        return answer

    async def report_usage(self, reports: Sequence[model.UsageReport]) -> list[model.UsageResult]:
        raise NotImplementedError

    async def report_events(self, events: Sequence[model.UsageEvent]) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        return None


@dataclasses.dataclass(frozen=True)
class Parts:
    """The read path wired as the server wires it, over the stand-in upstream (no Redis)."""

    checker: checker.Checker
    store: store.EntitlementStore
    ledger: pending.Ledger


def make(
    upstream: StandInUpstream,
    clock: list[float] | None = None,
    *,
    max_stale: float = 0.0,
    wait_limit: float | None = None,
    upstream_concurrency: int = 16,
    upstream_queue: int = 1000,
    doubt_wait: float = 2.0,
) -> Parts:
    now = clock or [0.0]
    sidecar_metrics = metrics.Metrics()
    ledger = pending.Ledger()
    entitlements = store.EntitlementStore(
        entries=cache.Cache(max_bytes=1 << 20, clock=lambda: now[0]),
        upstream=upstream,
        shared=None,
        ledger=ledger,
        policy=store.Policy(ttl=10, negative_ttl=1),
        sidecar_metrics=sidecar_metrics,
        upstream_concurrency=upstream_concurrency,
        upstream_queue=upstream_queue,
        doubt_wait=doubt_wait,
    )
    reads = checker.Checker(
        entitlements=entitlements,
        static_defaults=defaults.Defaults({}, None),
        sidecar_metrics=sidecar_metrics,
        max_stale=max_stale,
        wait_limit=wait_limit,
    )
    return Parts(reads, entitlements, ledger)
