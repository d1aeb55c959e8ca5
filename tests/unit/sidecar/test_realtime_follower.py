"""The follower turns stream events into store changes, in arrival order: a plan change
replaces a held customer's entitlements, a usage event sets one feature's usage (with pending
usage replayed on top), an event with no entitlements expires the entry and refetches it, and
the stream's liveness decides whether held entries outlive their TTL; a reconnection resyncs
what was held from before it. Over an in-process stand-in for the upstream (named as such)."""

from __future__ import annotations

import asyncio

from stigg_sidecar import metrics, model, realtime
from stigg_sidecar.upstream import parse
from tests.unit.sidecar import standin_upstream

KEY, SEATS = standin_upstream.KEY, standin_upstream.SEATS


async def _settle() -> None:
    for _ in range(20):  # background refreshes run as tasks of their own
        await asyncio.sleep(0)


async def test_events_change_only_held_customers_and_usage_keeps_pending_reports() -> None:
    upstream = standin_upstream.StandInUpstream()
    sidecar = standin_upstream.make(upstream)
    follower = realtime.Follower(sidecar.store, metrics.Metrics())
    other = model.CustomerKey("customer-2")
    follower.event(parse.UsageUpdated(other, SEATS.id, 3.0, None))
    assert sidecar.store.peek(other) is None, "an event never creates an entry"

    await sidecar.checker.state(KEY)
    limit_20 = standin_upstream.state(20.0).entitlements[SEATS.id]
    follower.event(parse.EntitlementsUpdated(KEY, (limit_20,)))
    held = sidecar.store.peek(KEY)
    assert held is not None
    assert held.entitlements[SEATS.id].usage_limit == 20.0

    sidecar.ledger.add([model.UsageReport(KEY.customer_id, SEATS.id, 2.0, idempotency_key="a")])
    follower.event(parse.UsageUpdated(KEY, SEATS.id, 7.0, None))
    held = sidecar.store.peek(KEY)
    assert held is not None
    assert held.entitlements[SEATS.id].current_usage == 9.0, "the upstream's 7 plus the pending 2"
    assert upstream.fetches == 1


async def test_an_event_without_entitlements_expires_the_entry_and_refetches_it() -> None:
    upstream = standin_upstream.StandInUpstream()
    sidecar = standin_upstream.make(upstream)
    follower = realtime.Follower(sidecar.store, metrics.Metrics())
    await sidecar.checker.state(KEY)
    upstream.limit = 1.0
    follower.event(parse.EntitlementsUpdated(KEY, ()))
    await _settle()
    assert upstream.fetches == 2
    held = sidecar.store.lookup(KEY)
    assert held is not None
    assert held[1], "fresh again after the refetch"
    assert held[0].entitlements[SEATS.id].usage_limit == 1.0


async def test_liveness_and_resync_follow_the_connection() -> None:
    upstream = standin_upstream.StandInUpstream()
    clock = [100.0]
    sidecar = standin_upstream.make(upstream, clock)
    follower = realtime.Follower(sidecar.store, metrics.Metrics())
    await sidecar.checker.state(KEY)  # held as of 100
    clock[0] = 106.0
    follower.connected(since=105.0)  # events before 105 may have been missed: resync it
    await _settle()
    assert upstream.fetches == 2
    assert sidecar.store.held_before(105.0) == []

    clock[0] = 500.0  # far past the TTL: still fresh while live
    held = sidecar.store.lookup(KEY)
    assert held is not None
    assert held[1]
    follower.disconnected()
    held = sidecar.store.lookup(KEY)
    assert held is not None
    assert not held[1], "back under the TTL once the stream is down"
    await follower.close()


async def test_a_package_published_to_every_customer_refreshes_what_is_held() -> None:
    upstream = standin_upstream.StandInUpstream()
    clock = [100.0]
    sidecar = standin_upstream.make(upstream, clock)
    follower = realtime.Follower(sidecar.store, metrics.Metrics())
    await sidecar.checker.state(KEY)
    follower.event(parse.PackagePublished("plan-pro", all_customers=False))
    await _settle()
    assert upstream.fetches == 1, "new customers only: nothing held changes"
    clock[0] = 101.0
    upstream.limit = 50.0
    follower.event(parse.PackagePublished("plan-pro", all_customers=True))
    await _settle()
    assert upstream.fetches == 2
    held = sidecar.store.peek(KEY)
    assert held is not None
    assert held.entitlements[SEATS.id].usage_limit == 50.0
    await follower.close()


async def test_v2_events_set_credits_and_a_denied_state() -> None:
    upstream = standin_upstream.StandInUpstream()
    sidecar = standin_upstream.make(upstream)
    follower = realtime.Follower(sidecar.store, metrics.Metrics())
    await sidecar.checker.state(KEY)
    credits = model.CreditEntitlement(model.Currency("cred"), usage_limit=100, current_usage=10)
    limit_20 = standin_upstream.state(20.0).entitlements[SEATS.id]
    follower.event(parse.EntitlementsUpdated(KEY, (limit_20,), (credits,), with_credits=True))
    follower.event(parse.CreditUsageUpdated(KEY, "cred", 35.0))
    held = sidecar.store.peek(KEY)
    assert held is not None
    assert held.credits["cred"].current_usage == 35.0
    follower.event(parse.EntitlementsUpdated(KEY, (), (), model.DeniedReason.CUSTOMER_IS_ARCHIVED))
    held = sidecar.store.peek(KEY)
    assert held is not None
    assert (held.denied_reason, held.entitlements) == (model.DeniedReason.CUSTOMER_IS_ARCHIVED, {})
    assert upstream.fetches == 1, "a denial with its reason needs no refetch"


async def test_a_legacy_entitlements_event_keeps_the_credits_held() -> None:
    upstream = standin_upstream.StandInUpstream()
    sidecar = standin_upstream.make(upstream)
    follower = realtime.Follower(sidecar.store, metrics.Metrics())
    await sidecar.checker.state(KEY)
    credits = model.CreditEntitlement(model.Currency("cred"), usage_limit=100, current_usage=10)
    limit_20 = standin_upstream.state(20.0).entitlements[SEATS.id]
    follower.event(parse.EntitlementsUpdated(KEY, (limit_20,), (credits,), with_credits=True))
    follower.event(parse.EntitlementsUpdated(KEY, (limit_20,)))  # legacy: says nothing of credits
    held = sidecar.store.peek(KEY)
    assert held is not None
    assert held.credits == {"cred": credits}
    follower.event(parse.EntitlementsUpdated(KEY, (limit_20,), (), with_credits=True))  # current: none
    held = sidecar.store.peek(KEY)
    assert held is not None
    assert held.credits == {}
