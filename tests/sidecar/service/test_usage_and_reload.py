"""ReportUsage (DELTA and SET), ReportUsageBulk, ReportEvents and ReloadEntitlements, end to end:
reports reach the upstream, and a check right after a report sees the new usage."""

from __future__ import annotations

import aiohttp
import grpc
import pytest

from stigg_sidecar import client
from stigg_sidecar.emulator import launcher
from stigg_sidecar.v1 import sidecar_pb2 as pb
from tests.sidecar import conftest


async def _upstream_usage(emulator: launcher.RunningEmulator, customer_id: str) -> dict[str, float]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{emulator.admin_url}/usage/{customer_id}") as r,
    ):
        body = await r.json()
        usage: dict[str, float] = body["usage"]
        return usage


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
    assert (await _upstream_usage(emulator, "customer-free"))["feature-api-calls"] == 950

    seats = await stub.report_usage("customer-free", "feature-seats", 2, set_total=True)
    assert seats.current_usage == 2


async def test_bulk_and_events(stub: client.AsyncSidecarClient, emulator: launcher.RunningEmulator) -> None:
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
    assert [u.current_usage for u in bulk.usages] == [99010, 2]
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
    async with aiohttp.ClientSession() as session, session.get(f"{emulator.admin_url}/events") as response:
        events = (await response.json())["events"]
    assert [(e["eventName"], e["customerId"], e["idempotencyKey"]) for e in events] == [
        ("file-uploaded", "customer-pro", "evt-1")
    ]
    assert events[0]["dimensions"] == {"bytes": 512}


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


async def test_writes_fail_clearly_when_the_upstream_is_down(
    stub: client.AsyncSidecarClient, emulator: launcher.RunningEmulator
) -> None:
    await conftest.set_faults(emulator, outage=True)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.report_usage("customer-free", "feature-api-calls", 1)
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "upstream is unavailable" in (raised.value.details() or "")
    await conftest.set_faults(emulator, outage=False)
    with pytest.raises(grpc.aio.AioRpcError) as rejected:
        await stub.report_usage("customer-free", "feature-no-such", 1)
    assert rejected.value.code() == grpc.StatusCode.INVALID_ARGUMENT
