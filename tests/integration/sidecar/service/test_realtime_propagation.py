"""With the real-time stream, upstream changes reach a running sidecar's answers without a
fetch: a plan change, usage reported elsewhere, a deleted customer; held entries stay fresh
past their TTL while the stream is live."""

from __future__ import annotations

import asyncio

import pytest

from stigg_devkit import sidecar_launcher, waiting
from stigg_emulator import launcher
from stigg_sidecar import client
from stigg_sidecar.v1 import sidecar_pb2 as pb
from tests.integration.sidecar import conftest


@pytest.fixture
def live_sidecar(
    emulator: launcher.RunningEmulator, start_sidecar: conftest.SidecarFactory
) -> sidecar_launcher.RunningSidecar:
    return conftest.start_live_sidecar(
        start_sidecar, emulator, SIDECAR_CACHE_TTL_SECONDS="1"
    )  # the TTL is 1 s


async def _fetches(emulator: launcher.RunningEmulator, customer_id: str) -> int:
    counts = (await conftest.upstream_requests(emulator))["byEndpointAndCustomer"]
    assert isinstance(counts, dict)
    return int(counts.get("edge:entitlements-state", {}).get(customer_id, 0))


async def test_a_plan_change_reaches_the_answers_without_a_fetch(
    live_stub: client.AsyncSidecarClient,
    live_sidecar: sidecar_launcher.RunningSidecar,
    emulator: launcher.RunningEmulator,
) -> None:
    assert not (await live_stub.get_boolean_entitlement("customer-free", "feature-sso")).has_access
    status, _ = await conftest.emulator_admin(
        emulator, "PUT", "customers/customer-free", {"plan": "plan-pro"}
    )
    assert status == 200

    async def granted() -> bool:
        return (await live_stub.get_boolean_entitlement("customer-free", "feature-sso")).has_access

    await waiting.eventually(granted, within=5, what="the plan change to reach the sidecar")
    seats = await live_stub.get_metered_entitlement("customer-free", "feature-seats")
    assert seats.entitlement.usage_limit == 10
    assert await _fetches(emulator, "customer-free") == 1, "the change came by event, not by a fetch"
    assert live_sidecar.metric("sidecar_stream_events_total", 'kind="entitlements"') >= 1


async def test_usage_reported_elsewhere_reaches_the_answers(
    live_stub: client.AsyncSidecarClient, emulator: launcher.RunningEmulator
) -> None:
    before = await live_stub.get_metered_entitlement("customer-pro", "feature-seats")
    assert before.entitlement.current_usage == 7
    reported_elsewhere = {  # as another replica's sidecar reports it, straight to the upstream
        "customerId": "customer-pro",
        "featureId": "feature-seats",
        "value": 12,
        "updateBehavior": "SET",
    }
    status, _ = await conftest.report_upstream(emulator, reported_elsewhere)
    assert status == 200

    async def updated() -> pb.GetMeteredEntitlementResponse | None:
        answer = await live_stub.get_metered_entitlement("customer-pro", "feature-seats", requested_usage=4)
        return answer if answer.entitlement.current_usage == 12 else None

    answer = await waiting.eventually(updated, within=5, what="the usage event to reach the sidecar")
    assert not answer.has_access, "12 used of 15: 4 more exceed the limit"
    assert await _fetches(emulator, "customer-pro") == 1


async def test_held_entries_stay_fresh_past_their_ttl_while_live(
    live_stub: client.AsyncSidecarClient, emulator: launcher.RunningEmulator
) -> None:
    await live_stub.get_boolean_entitlement("customer-pro", "feature-sso")
    await asyncio.sleep(1.5)  # the TTL is 1 s
    for _ in range(5):
        assert (await live_stub.get_boolean_entitlement("customer-pro", "feature-sso")).has_access
    assert await _fetches(emulator, "customer-pro") == 1


async def test_a_deleted_customer_is_refetched_and_denied(
    live_stub: client.AsyncSidecarClient, emulator: launcher.RunningEmulator
) -> None:
    assert (await live_stub.get_boolean_entitlement("customer-pro", "feature-sso")).has_access
    status, _ = await conftest.emulator_admin(emulator, "DELETE", "customers/customer-pro")
    assert status == 204

    async def denied() -> pb.GetBooleanEntitlementResponse | None:
        answer = await live_stub.get_boolean_entitlement("customer-pro", "feature-sso")
        return None if answer.has_access else answer

    answer = await waiting.eventually(denied, within=5, what="the deletion to reach the sidecar")
    assert answer.access_denied_reason == pb.ACCESS_DENIED_REASON_CUSTOMER_NOT_FOUND
