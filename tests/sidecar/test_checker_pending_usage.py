"""Pending usage (accepted, not yet acknowledged upstream) is replayed on upstream states; a
state that arrives while a report is on its way may already include it, so the customer is
refetched once the report is settled: never counted twice for longer than a round trip.
Pure logic, over an in-process stand-in for the upstream."""

from __future__ import annotations

import asyncio

from stigg_sidecar import checker
from stigg_sidecar.upstream import base
from tests.sidecar import standin_upstream

KEY, SEATS = standin_upstream.KEY, standin_upstream.SEATS


def _report(key: str, value: float, *, set_total: bool = False) -> base.UsageReport:
    return base.UsageReport(KEY.customer_id, SEATS.id, value, set_total=set_total, idempotency_key=key)


async def _usage(entitlements: checker.Checker) -> float:
    state = await entitlements.state(KEY)
    assert state is not None
    return state.entitlements[SEATS.id].current_usage


async def test_pending_reports_are_replayed_in_order_on_every_upstream_state() -> None:
    upstream = standin_upstream.StandInUpstream()
    upstream.usage = 3
    entitlements = standin_upstream.make_checker(upstream)
    entitlements.pend([_report("a", 2), _report("b", 10, set_total=True), _report("c", 1)])
    assert await _usage(entitlements) == 11, "3 +2, then SET 10, then +1"
    entitlements.apply_usage(KEY, SEATS.id, 4, None)  # an event: the upstream says 4
    assert await _usage(entitlements) == 11
    entitlements.settle([_report("b", 10, set_total=True)])
    entitlements.apply_usage(KEY, SEATS.id, 4, None)
    assert await _usage(entitlements) == 7, "4 +2 +1 once the SET is settled"


async def test_a_state_that_may_include_a_report_in_flight_is_rechecked_after_it_settles() -> None:
    upstream = standin_upstream.StandInUpstream()
    entitlements = standin_upstream.make_checker(upstream)
    assert await _usage(entitlements) == 0
    report = _report("k", 5)
    entitlements.pend([report])
    entitlements.sending([report])
    upstream.usage = 5  # the upstream applied it and says so before its answer reached us
    entitlements.apply_usage(KEY, SEATS.id, 5, None)
    assert await _usage(entitlements) == 10, "for one round trip the report may count twice"
    entitlements.settle([report])
    for _ in range(20):  # the recheck runs as a task of its own
        await asyncio.sleep(0)
    assert await _usage(entitlements) == 5
    assert upstream.fetches == 2


async def test_a_report_not_yet_sent_needs_no_recheck() -> None:
    upstream = standin_upstream.StandInUpstream()
    entitlements = standin_upstream.make_checker(upstream)
    await _usage(entitlements)
    report = _report("k", 5)
    entitlements.pend([report])
    entitlements.apply_usage(KEY, SEATS.id, 0, None)  # an event from elsewhere, before we sent ours
    assert await _usage(entitlements) == 5
    entitlements.sending([report])
    entitlements.settle([report])
    for _ in range(20):
        await asyncio.sleep(0)
    assert upstream.fetches == 1
