"""ReportUsage (DELTA and SET), ReportUsageBulk, ReportEvents and ReloadEntitlements, end to end:
reports reach the upstream, and a check right after a report sees the new usage."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import aiohttp
import grpc
import pytest

from stigg_devkit import sidecar_launcher
from stigg_emulator import launcher
from stigg_sidecar import client
from stigg_sidecar.v1 import sidecar_pb2 as pb
from tests.integration.sidecar import conftest


async def test_report_usage_then_check_sees_it(
    stub: client.AsyncSidecarClient, emulator: launcher.RunningEmulator
) -> None:
    before = await stub.get_metered_entitlement("customer-free", "feature-api-calls", requested_usage=750)
    assert before.has_access
    reported = await stub.report_usage("customer-free", "feature-api-calls", 700)
    assert (reported.customer_id, reported.feature_id, reported.current_usage) == (
        "customer-free",
        "feature-api-calls",
        950,
    )
    assert reported.measurement_id
    after = await stub.get_metered_entitlement("customer-free", "feature-api-calls", requested_usage=750)
    assert (after.has_access, after.entitlement.current_usage) == (False, 950)

    async def delivered() -> bool:
        return (await conftest.upstream_usage(emulator, "customer-free")).get("feature-api-calls") == 950

    await _eventually(delivered, "the report to reach the upstream")

    seats = await stub.report_usage("customer-free", "feature-seats", 2, set_total=True)
    assert seats.current_usage == 2


async def test_bulk_and_events(stub: client.AsyncSidecarClient, emulator: launcher.RunningEmulator) -> None:
    await stub.get_metered_entitlement("customer-pro", "feature-api-calls")  # cached: known usage 99000
    bulk = await stub.report_usage_bulk(
        [
            pb.ReportUsageRequest(customer_id="customer-pro", feature_id="feature-api-calls", value=10),
            pb.ReportUsageRequest(
                customer_id="customer-free",
                feature_id="feature-seats",
                value=2,
                update_behavior=pb.USAGE_UPDATE_BEHAVIOR_SET,
            ),
        ]
    )
    assert bulk.usages[0].current_usage == 99010, "the sidecar's own view moves at once"
    assert not bulk.usages[1].HasField("current_usage"), "not cached: the sidecar does not guess"
    assert all(u.measurement_id for u in bulk.usages)
    await stub.report_events(
        [
            pb.Event(
                event_name="file-uploaded",
                customer_id="customer-pro",
                idempotency_key="evt-1",
                dimensions={"bytes": pb.EventDimensionValue(number_value=512)},
            )
        ]
    )

    async def delivered() -> bool:
        pro = await conftest.upstream_usage(emulator, "customer-pro")
        free = await conftest.upstream_usage(emulator, "customer-free")
        return pro.get("feature-api-calls") == 99010 and free.get("feature-seats") == 2

    await _eventually(delivered, "the outbox to deliver the reports")
    async with aiohttp.ClientSession() as session, session.get(f"{emulator.admin_url}/events") as response:
        events = (await response.json())["events"]
    assert [(e["eventName"], e["customerId"], e["idempotencyKey"]) for e in events] == [
        ("file-uploaded", "customer-pro", "evt-1")
    ]
    assert events[0]["dimensions"] == {"bytes": 512}


async def _eventually(probe: Callable[[], Awaitable[bool]], what: str, seconds: float = 20) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not await probe():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {seconds:.0f}s waiting for {what}")
        await asyncio.sleep(0.1)


async def test_reload_refetches_one_customer(
    stub: client.AsyncSidecarClient, emulator: launcher.RunningEmulator
) -> None:
    assert not (await stub.get_boolean_entitlement("customer-free", "feature-sso")).has_access
    async with (
        aiohttp.ClientSession() as session,
        session.put(f"{emulator.admin_url}/customers/customer-free", json={"plan": "plan-pro"}) as response,
    ):
        assert response.status == 200
    assert not (await stub.get_boolean_entitlement("customer-free", "feature-sso")).has_access, "still cached"

    reloaded = await stub.reload_entitlements("customer-free")
    assert reloaded.entitled_entity_exists
    assert (await stub.get_boolean_entitlement("customer-free", "feature-sso")).has_access
    assert not (await stub.reload_entitlements("customer-nobody")).entitled_entity_exists
    requests = await conftest.upstream_requests(emulator)
    assert requests["byCustomer"] == {"customer-free": 2, "customer-nobody": 1}


async def test_reports_wait_out_an_upstream_outage(
    stub: client.AsyncSidecarClient,
    emulator: launcher.RunningEmulator,
    sidecar: sidecar_launcher.RunningSidecar,
) -> None:
    await conftest.set_faults(emulator, outage=True)
    accepted = await stub.report_usage("customer-free", "feature-api-calls", 5)
    assert accepted.measurement_id, "accepted while the upstream is down: it is in the outbox"
    assert sidecar.metric("sidecar_outbox_depth") == 1
    await conftest.set_faults(emulator, outage=False)

    async def delivered() -> bool:
        return (await conftest.upstream_usage(emulator, "customer-free")).get("feature-api-calls") == 255

    await _eventually(delivered, "the outbox to drain once the upstream is back")
    await stub.report_usage("customer-free", "feature-no-such", 1)  # accepted, then refused upstream

    async def dropped() -> bool:
        return (
            sidecar.metric("sidecar_outbox_rejected_total") == 1
            and sidecar.metric("sidecar_outbox_depth") == 0
        )

    await _eventually(dropped, "the refused report to be dropped, not to block the outbox")


async def test_a_full_outbox_answers_resource_exhausted(
    emulator: launcher.RunningEmulator, start_sidecar: conftest.SidecarFactory
) -> None:
    sidecar = start_sidecar({**conftest.upstream_env(emulator), "SIDECAR_OUTBOX_MAX_ITEMS": "2"})
    await conftest.set_faults(emulator, outage=True)
    async with client.AsyncSidecarClient(sidecar.grpc_target, timeout=5) as checks:
        for _ in range(2):
            await checks.report_usage("customer-free", "feature-api-calls", 1)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await checks.report_usage("customer-free", "feature-api-calls", 1)
    assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "the usage outbox holds 2 of at most 2 items" in (raised.value.details() or "")
    assert sidecar.metric("sidecar_outbox_depth") == 2
