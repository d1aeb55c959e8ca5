"""Requests the SDK sends but the sidecar must refuse get INVALID_ARGUMENT, which the SDK raises
as a ``GRPCError`` with the message naming the field; none of them reaches the upstream."""

from __future__ import annotations

import math
from typing import Any

import pytest

from stigg_devkit import sidecar_launcher
from stigg_emulator import launcher
from tests import stigg_sdk
from tests.integration.sidecar import conftest

CASES: list[tuple[str, dict[str, Any], str]] = [
    (
        "GetBooleanEntitlement",
        {"customer_id": "", "feature_id": "feature-sso"},
        "customer_id: must not be empty",
    ),
    ("GetNumericEntitlement", {"customer_id": "c", "feature_id": " "}, "feature_id: must not be empty"),
    (
        "GetMeteredEntitlement",
        {"customer_id": "c", "feature_id": "f", "options": {"requested_usage": -1}},
        "options.requested_usage: must be a non-negative number",
    ),
    (
        "GetMeteredEntitlement",
        {"customer_id": "c", "feature_id": "f", "options": {"requested_usage": math.nan}},
        "options.requested_usage: must be a non-negative number",
    ),
    (
        "GetMeteredEntitlement",
        {
            "customer_id": "c",
            "feature_id": "f",
            "options": {"fallback": {"has_access": True, "usage_limit": -5}},
        },
        "options.fallback.usage_limit",
    ),
    (
        "GetEnumEntitlement",
        {"customer_id": "c", "feature_id": "f", "options": {"requested_values": ["a", ""]}},
        "options.requested_values[1]: must not be empty",
    ),
    (
        "GetEntitlement",
        {"customer_id": "c" * 257, "feature_id": "f"},
        "customer_id: must be at most 256 characters, got 257",
    ),
    ("GetEntitlementV2", {"customer_id": "", "feature_id": "f"}, "customer_id: must not be empty"),
    ("GetEntitlements", {"customer_id": ""}, "customer_id: must not be empty"),
    ("GetEntitlementsStateV2", {"customer_id": " "}, "customer_id: must not be empty"),
    ("ReloadEntitlements", {"customer_id": ""}, "customer_id: must not be empty"),
    ("ReportUsage", {"customer_id": "c", "feature_id": "", "value": 1}, "feature_id: must not be empty"),
    (
        "ReportUsage",
        {"customer_id": "c", "feature_id": "f", "value": math.inf},
        "value: must be a finite number",
    ),
    (
        "ReportUsage",
        {"customer_id": "c", "feature_id": "f", "value": -3, "update_behavior": "USAGE_UPDATE_BEHAVIOR_SET"},
        "value: must not be negative for SET",
    ),
    ("ReportUsageBulk", {"usages": []}, "usages: must not be empty"),
    (
        "ReportUsageBulk",
        {
            "usages": [
                {"customer_id": "c", "feature_id": "f", "value": 1},
                {"customer_id": "", "feature_id": "f"},
            ]
        },
        "usages[1].customer_id: must not be empty",
    ),
    ("ReportEvents", {"events": []}, "events: must not be empty"),
    (
        "ReportEvents",
        {"events": [{"event_name": "e", "customer_id": "c", "idempotency_key": ""}]},
        "events[0].idempotency_key: must not be empty",
    ),
]


@pytest.mark.parametrize(("method", "request_", "message"), CASES, ids=[f"{c[0]}-{c[2]}" for c in CASES])
def test_refused_with_the_field_named(
    module_sdk: stigg_sdk.SdkClient, method: str, request_: dict[str, Any], message: str
) -> None:
    answer = module_sdk.call(method, request_)
    assert "error" in answer, f"accepted: {answer}"
    assert answer["error"]["status"] == "INVALID_ARGUMENT"
    assert answer["error"]["message"].startswith(message)


async def test_nothing_reached_the_upstream(
    module_sdk: stigg_sdk.SdkClient,
    module_emulator: launcher.RunningEmulator,
    module_sidecar: sidecar_launcher.RunningSidecar,
) -> None:
    """Runs after the cases above (same module, same sidecar): none was fetched or queued."""
    requests = await conftest.upstream_requests(module_emulator)
    assert requests["byCustomer"] == {}
    assert module_sidecar.metric("sidecar_outbox_depth") == 0
    assert module_sdk.response("ReloadEntitlements", {"customer_id": "customer-free"})[
        "entitled_entity_exists"
    ]
    assert (await conftest.upstream_requests(module_emulator))["byCustomer"] == {"customer-free": 1}
