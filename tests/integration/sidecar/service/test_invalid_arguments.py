"""Invalid requests get INVALID_ARGUMENT with the field named, and nothing else happens."""

from __future__ import annotations

import math
from typing import Any

import grpc
import pytest

from stigg_devkit import sidecar_launcher
from stigg_emulator import launcher
from stigg_sidecar.v1 import sidecar_pb2 as pb
from stigg_sidecar.v1 import sidecar_pb2_grpc as pb_grpc
from tests.integration.sidecar import conftest

CASES: list[tuple[str, Any, str]] = [
    ("GetBooleanEntitlement", pb.GetBooleanEntitlementRequest(customer_id="", feature_id="f"), "customer_id"),
    ("GetBooleanEntitlement", pb.GetBooleanEntitlementRequest(customer_id="c", feature_id=" "), "feature_id"),
    (
        "GetMeteredEntitlement",
        pb.GetMeteredEntitlementRequest(
            customer_id="c", feature_id="f", options=pb.MeteredEntitlementOptions(requested_usage=-1)
        ),
        "options.requested_usage",
    ),
    (
        "GetMeteredEntitlement",
        pb.GetMeteredEntitlementRequest(
            customer_id="c", feature_id="f", options=pb.MeteredEntitlementOptions(requested_usage=math.nan)
        ),
        "options.requested_usage",
    ),
    (
        "GetEnumEntitlement",
        pb.GetEnumEntitlementRequest(
            customer_id="c", feature_id="f", options=pb.EnumEntitlementOptions(requested_values=["a", ""])
        ),
        "options.requested_values[1]",
    ),
    (
        "GetMeteredEntitlement",
        pb.GetMeteredEntitlementRequest(
            customer_id="c",
            feature_id="f",
            options=pb.MeteredEntitlementOptions(fallback=pb.MeteredEntitlementFallback(usage_limit=-5)),
        ),
        "options.fallback.usage_limit",
    ),
    ("GetEntitlements", pb.GetEntitlementsRequest(customer_id=""), "customer_id"),
    ("ReloadEntitlements", pb.ReloadEntitlementsRequest(customer_id=""), "customer_id"),
    ("ReportUsage", pb.ReportUsageRequest(customer_id="c", feature_id="", value=1), "feature_id"),
    ("ReportUsage", pb.ReportUsageRequest(customer_id="c", feature_id="f", value=math.inf), "value"),
    (
        "ReportUsage",
        pb.ReportUsageRequest(
            customer_id="c", feature_id="f", value=-3, update_behavior=pb.USAGE_UPDATE_BEHAVIOR_SET
        ),
        "value",
    ),
    ("ReportUsageBulk", pb.ReportUsageBulkRequest(), "usages"),
    (
        "ReportUsageBulk",
        pb.ReportUsageBulkRequest(
            usages=[
                pb.ReportUsageRequest(customer_id="c", feature_id="f", value=1),
                pb.ReportUsageRequest(customer_id="", feature_id="f", value=1),
            ]
        ),
        "usages[1].customer_id",
    ),
    (
        "ReportEvents",
        pb.ReportEventsRequest(events=[pb.Event(event_name="e", customer_id="c", idempotency_key="")]),
        "events[0].idempotency_key",
    ),
]


@pytest.mark.parametrize(("method", "request_message", "field"), CASES, ids=[f"{m}-{f}" for m, _, f in CASES])
def test_invalid_request_names_the_field(
    module_sidecar: sidecar_launcher.RunningSidecar,
    method: str,
    request_message: Any,
    field: str,
) -> None:
    with grpc.insecure_channel(module_sidecar.grpc_target) as channel:
        stub = pb_grpc.SidecarServiceStub(channel)
        with pytest.raises(grpc.RpcError) as raised:
            getattr(stub, method)(request_message, timeout=5)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert raised.value.details().startswith(f"{field}: ")


async def test_invalid_requests_reach_nobody(
    sidecar: sidecar_launcher.RunningSidecar, emulator: launcher.RunningEmulator
) -> None:
    with grpc.insecure_channel(sidecar.grpc_target) as channel:
        stub = pb_grpc.SidecarServiceStub(channel)
        for method, request_message, _ in CASES:
            with pytest.raises(grpc.RpcError):
                getattr(stub, method)(request_message, timeout=5)
    assert (await conftest.upstream_requests(emulator))["total"] == 0
    assert sidecar.metric("sidecar_checks_total", 'method="GetBooleanEntitlement",outcome="invalid"') == 2
