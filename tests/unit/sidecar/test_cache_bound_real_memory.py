"""The cache's byte bound holds for the memory the process really spends: states loaded through
the store, with long customer ids or many entitlements, are measured with ``tracemalloc``
against ``SIDECAR_CACHE_MAX_SIZE_BYTES``.

Before, an entry counted the size of the upstream body (about 386 bytes for an unknown
customer whatever its id), so with 4 KiB ids the process held about 13 times the bound.
"""

from __future__ import annotations

import gc
import json
import tracemalloc
from collections.abc import Callable, Sequence

import pytest

from stigg_sidecar import cache, metrics, model, pending, store
from stigg_sidecar.upstream import parse

BOUND = 2 << 20  # 2 MiB


def _unknown_customer(key: model.CustomerKey) -> str:
    return json.dumps(
        {"data": {"entitlementsState": {"entitlements": [], "accessDeniedReason": "CustomerNotFound"}}}
    )


def _plan_of_eight(key: model.CustomerKey) -> str:
    features = [
        {
            "__typename": "Entitlement",
            "isGranted": True,
            "usageLimit": 100 + index,
            "currentUsage": 7.5,
            "hasUnlimitedUsage": False,
            "hasSoftLimit": False,
            "enumValues": ["small", "medium", "large"] if index == 0 else None,
            "resetPeriod": "MONTH",
            "usagePeriodAnchor": "2026-11-01T00:00:00.000Z",
            "usagePeriodStart": "2026-11-01T00:00:00.000Z",
            "usagePeriodEnd": "2026-12-01T00:00:00.000Z",
            "feature": {
                "refId": f"feature-number-{index}",
                "featureType": "NUMBER",
                "meterType": "Incremental",
                "featureUnits": "call",
                "featureUnitsPlural": "calls",
            },
        }
        for index in range(8)
    ]
    return json.dumps({"data": {"entitlementsState": {"entitlements": features}}})


class _ParsingUpstream:
    """A stand-in for ``StiggUpstream`` that parses a canned body for every key, as it would."""

    def __init__(self, body: Callable[[model.CustomerKey], str]) -> None:
        self._body = body

    async def fetch(self, key: model.CustomerKey) -> model.EntitlementState:
        data = parse.graphql_data(json.loads(self._body(key)))
        return parse.entitlements_state(key, data["entitlementsState"])

    async def report_usage(self, reports: Sequence[model.UsageReport]) -> list[model.UsageResult]:
        raise NotImplementedError

    async def report_events(self, events: Sequence[model.UsageEvent]) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        return None


@pytest.mark.parametrize(
    ("id_length", "body"),
    [(4096, _unknown_customer), (40, _unknown_customer), (4096, _plan_of_eight), (40, _plan_of_eight)],
    ids=["4KiB-ids-unknown", "short-ids-unknown", "4KiB-ids-plan", "short-ids-plan"],
)
async def test_the_bound_counts_what_entries_really_hold(
    id_length: int, body: Callable[[model.CustomerKey], str]
) -> None:
    entries: cache.Cache[model.CustomerKey, model.EntitlementState] = cache.Cache(max_bytes=BOUND)
    entitlements = store.EntitlementStore(
        entries=entries,
        upstream=_ParsingUpstream(body),
        shared=None,
        ledger=pending.Ledger(),
        policy=store.Policy(ttl=60, negative_ttl=60),
        sidecar_metrics=metrics.Metrics(),
        upstream_concurrency=16,
        upstream_queue=1000,
    )
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        count = 0
        while entries.stats.evictions < 200:  # well past the bound
            customer = f"{count:08d}".ljust(id_length, "x")
            await entitlements.load(model.CustomerKey(customer))
            count += 1
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()

    assert entries.bytes <= BOUND
    assert held <= BOUND * 1.15, f"{len(entries)} entries hold {held:,} bytes behind a {BOUND:,}-byte bound"
    assert held >= entries.bytes * 0.85, f"the cache counts {entries.bytes:,} bytes for {held:,} held"
