"""Pending usage (accepted, not yet acknowledged upstream) is replayed on upstream states, and a
report in doubt (sent, not yet answered) is never counted twice nor lost: a state that arrives
meanwhile leaves the held usage as it is, and the customer is refetched once the report is
answered; a first load with nothing held waits for the answer. Pure logic, over an in-process
stand-in for the upstream."""

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


def _accept(sidecar: standin_upstream.Parts, report: model.UsageReport, held: float) -> None:
    """What the write path does: the ledger gets the report, the held usage moves at once."""
    sidecar.ledger.add([report])
    sidecar.store.set_local_usage(KEY, SEATS.id, held)


async def _settle_tasks() -> None:
    for _ in range(20):  # refetches run as tasks of their own
        await asyncio.sleep(0)


async def test_pending_reports_are_replayed_in_order_on_every_upstream_state() -> None:
    upstream = standin_upstream.StandInUpstream()
    upstream.usage = 3
    sidecar = standin_upstream.make(upstream)
    sidecar.ledger.add([_report("a", 2), _report("b", 10, set_total=True), _report("c", 1)])
    assert await _usage(sidecar) == 11, "3 +2, then SET 10, then +1"
    sidecar.store.set_usage(KEY, SEATS.id, 4, None)  # an event: the upstream says 4
    assert await _usage(sidecar) == 11
    sidecar.store.settled(sidecar.ledger.settle([_report("b", 10, set_total=True)]))
    sidecar.store.set_usage(KEY, SEATS.id, 4, None)
    assert await _usage(sidecar) == 7, "4 +2 +1 once the SET is settled"


async def test_a_state_that_may_include_a_report_in_doubt_never_counts_it_twice() -> None:
    upstream = standin_upstream.StandInUpstream()
    sidecar = standin_upstream.make(upstream)
    assert await _usage(sidecar) == 0
    report = _report("k", 5)
    _accept(sidecar, report, 5)
    sidecar.ledger.sending([report])
    upstream.usage = 5  # the upstream applied it and says so before its answer reached us
    sidecar.store.set_usage(KEY, SEATS.id, 5, None)
    assert await _usage(sidecar) == 5, "before: 10 until the answer arrived"
    sidecar.store.settled(sidecar.ledger.settle([report]))
    await _settle_tasks()
    assert await _usage(sidecar) == 5
    assert upstream.fetches == 2, "refetched once the report was answered"


async def test_a_state_that_does_not_include_a_report_in_doubt_never_loses_it() -> None:
    upstream = standin_upstream.StandInUpstream()
    sidecar = standin_upstream.make(upstream)
    assert await _usage(sidecar) == 0
    report = _report("k", 5)
    _accept(sidecar, report, 5)
    sidecar.ledger.sending([report])
    sidecar.store.set_usage(KEY, SEATS.id, 0, None)  # an older event, from before the report
    assert await _usage(sidecar) == 5
    upstream.usage = 5
    sidecar.store.settled(sidecar.ledger.settle([report]))
    await _settle_tasks()
    assert await _usage(sidecar) == 5


async def test_a_report_not_yet_sent_needs_no_refetch() -> None:
    upstream = standin_upstream.StandInUpstream()
    sidecar = standin_upstream.make(upstream)
    await _usage(sidecar)
    report = _report("k", 5)
    _accept(sidecar, report, 5)
    sidecar.store.set_usage(KEY, SEATS.id, 0, None)  # an event from elsewhere, before we sent ours
    assert await _usage(sidecar) == 5
    sidecar.ledger.sending([report])
    sidecar.store.settled(sidecar.ledger.settle([report]))
    await _settle_tasks()
    assert upstream.fetches == 1


async def test_a_report_that_never_reached_the_upstream_is_replayed_again() -> None:
    upstream = standin_upstream.StandInUpstream()
    sidecar = standin_upstream.make(upstream)
    await _usage(sidecar)
    report = _report("k", 5)
    _accept(sidecar, report, 5)
    sidecar.ledger.sending([report])
    sidecar.store.settled(sidecar.ledger.unsent([report]))  # the breaker was open, say
    sidecar.store.set_usage(KEY, SEATS.id, 1, None)  # another replica's report
    assert await _usage(sidecar) == 6


async def test_a_first_load_waits_for_the_answer_to_a_report_in_doubt() -> None:
    upstream = standin_upstream.StandInUpstream()
    upstream.usage = 5  # a previous process sent the report; the upstream applied it
    sidecar = standin_upstream.make(upstream)
    report = _report("k", 5)
    sidecar.ledger.add([report], in_doubt=True)
    load = asyncio.ensure_future(_usage(sidecar))
    await _settle_tasks()
    assert not load.done(), "it waits for the report's answer"
    sidecar.store.settled(sidecar.ledger.settle([report]))
    assert await load == 5, "before: 10, the report counted twice"
    assert upstream.fetches == 2


async def test_a_first_load_waits_at_most_the_doubt_wait() -> None:
    upstream = standin_upstream.StandInUpstream()
    sidecar = standin_upstream.make(upstream, doubt_wait=0.05)
    sidecar.ledger.add([_report("k", 5)], in_doubt=True)
    assert await asyncio.wait_for(_usage(sidecar), 1) == 5, "not applied upstream: replayed"


async def test_a_report_that_may_have_reached_the_upstream_stays_in_doubt() -> None:
    upstream = standin_upstream.StandInUpstream()
    sidecar = standin_upstream.make(upstream)
    await _usage(sidecar)
    report = _report("k", 5)
    _accept(sidecar, report, 5)
    sidecar.ledger.sending([report])
    sidecar.ledger.reached([report])  # a timeout: the upstream may have applied it
    sidecar.ledger.sending([report])
    sidecar.store.settled(sidecar.ledger.unsent([report]))  # then the breaker opened
    assert sidecar.ledger.in_doubt(KEY)
    sidecar.store.set_usage(KEY, SEATS.id, 5, None)  # the upstream had applied it
    assert await _usage(sidecar) == 5, "before: 10, the report queued again and counted twice"


async def test_a_retried_report_is_pending_once() -> None:
    upstream = standin_upstream.StandInUpstream()
    sidecar = standin_upstream.make(upstream)
    await _usage(sidecar)
    sidecar.ledger.add([_report("same-key", 5)])
    sidecar.ledger.add([_report("same-key", 5)])  # the client retried with the same key
    sidecar.store.set_usage(KEY, SEATS.id, 0, None)
    assert await _usage(sidecar) == 5
    assert len(sidecar.ledger) == 1
