"""Pending usage (accepted, not yet acknowledged upstream) is replayed on upstream states; a
state that arrives while a report is on its way may already include it, so the customer is
refetched once the report is settled: never counted twice for longer than a round trip.
Pure logic, over an in-process stand-in for the upstream."""

from __future__ import annotations

import asyncio

from stigg_sidecar import model
from tests.unit.sidecar import standin_upstream

KEY, SEATS = standin_upstream.KEY, standin_upstream.SEATS


def _report(key: str, value: float, *, set_total: bool = False) -> model.UsageReport:
    return model.UsageReport(KEY.customer_id, SEATS.id, value, set_total=set_total, idempotency_key=key)


async def _usage(sidecar: standin_upstream.Parts) -> float:
    state = await sidecar.checker.state(KEY)
    assert state is not None
    return state.entitlements[SEATS.id].current_usage


async def test_pending_reports_are_replayed_in_order_on_every_upstream_state() -> None:
    upstream = standin_upstream.StandInUpstream()
    upstream.usage = 3
    sidecar = standin_upstream.make(upstream)
    sidecar.ledger.add([_report("a", 2), _report("b", 10, set_total=True), _report("c", 1)])
    assert await _usage(sidecar) == 11, "3 +2, then SET 10, then +1"
    sidecar.store.set_usage(KEY, SEATS.id, 4, None)  # an event: the upstream says 4
    assert await _usage(sidecar) == 11
    sidecar.store.recheck(sidecar.ledger.settle([_report("b", 10, set_total=True)]))
    sidecar.store.set_usage(KEY, SEATS.id, 4, None)
    assert await _usage(sidecar) == 7, "4 +2 +1 once the SET is settled"


async def test_a_state_that_may_include_a_report_in_flight_is_rechecked_after_it_settles() -> None:
    upstream = standin_upstream.StandInUpstream()
    sidecar = standin_upstream.make(upstream)
    assert await _usage(sidecar) == 0
    report = _report("k", 5)
    sidecar.ledger.add([report])
    sidecar.ledger.sending([report])
    upstream.usage = 5  # the upstream applied it and says so before its answer reached us
    sidecar.store.set_usage(KEY, SEATS.id, 5, None)
    assert await _usage(sidecar) == 10, "for one round trip the report may count twice"
    sidecar.store.recheck(sidecar.ledger.settle([report]))
    for _ in range(20):  # the recheck runs as a task of its own
        await asyncio.sleep(0)
    assert await _usage(sidecar) == 5
    assert upstream.fetches == 2


async def test_a_report_not_yet_sent_needs_no_recheck() -> None:
    upstream = standin_upstream.StandInUpstream()
    sidecar = standin_upstream.make(upstream)
    await _usage(sidecar)
    report = _report("k", 5)
    sidecar.ledger.add([report])
    sidecar.store.set_usage(KEY, SEATS.id, 0, None)  # an event from elsewhere, before we sent ours
    assert await _usage(sidecar) == 5
    sidecar.ledger.sending([report])
    sidecar.store.recheck(sidecar.ledger.settle([report]))
    for _ in range(20):
        await asyncio.sleep(0)
    assert upstream.fetches == 1
