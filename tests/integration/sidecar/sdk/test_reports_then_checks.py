"""Usage reported through the SDK shows in the next check at once and reaches the upstream:
ReportUsage with DELTA (a change) and SET (the new total), ReportUsageBulk, with dimensions
and a timestamp as the SDK sends them."""

from __future__ import annotations

import asyncio
from typing import Any

from stigg_emulator import launcher
from tests import stigg_sdk
from tests.integration.sidecar import conftest


def _calls(sdk: stigg_sdk.SdkClient, customer_id: str, requested: float) -> dict[str, Any]:
    request = {
        "customer_id": customer_id,
        "feature_id": "feature-api-calls",
        "options": {"requested_usage": requested},
    }
    return sdk.response("GetMeteredEntitlement", request)


async def _upstream_has(
    emulator: launcher.RunningEmulator, customer_id: str, expected: dict[str, float]
) -> None:
    deadline = asyncio.get_running_loop().time() + 20
    while True:
        usage = await conftest.upstream_usage(emulator, customer_id)
        if all(usage.get(feature) == value for feature, value in expected.items()):
            return
        assert asyncio.get_running_loop().time() < deadline, f"the upstream has {usage}, not {expected}"
        await asyncio.sleep(0.1)


async def test_delta_then_check(sdk: stigg_sdk.SdkClient, emulator: launcher.RunningEmulator) -> None:
    assert _calls(sdk, "customer-free", 750)["has_access"] is True  # 250 of 1000 used
    reported = sdk.response(
        "ReportUsage",
        {
            "customer_id": "customer-free",
            "feature_id": "feature-api-calls",
            "value": 700,
            "update_behavior": "USAGE_UPDATE_BEHAVIOR_DELTA",
            "dimensions": {"endpoint": {"string_value": "/v1/search"}, "cached": {"boolean_value": False}},
            "timestamp": "2026-12-01T10:00:00+00:00",
        },
    )
    assert reported["current_usage"] == 950
    after = _calls(sdk, "customer-free", 750)
    assert (after["has_access"], after["access_denied_reason"], after["entitlement"]["current_usage"]) == (
        False,
        "ACCESS_DENIED_REASON_REQUESTED_USAGE_EXCEEDING_LIMIT",
        950,
    )
    assert _calls(sdk, "customer-free", 50)["has_access"] is True
    await _upstream_has(emulator, "customer-free", {"feature-api-calls": 950})


async def test_set_then_check(sdk: stigg_sdk.SdkClient, emulator: launcher.RunningEmulator) -> None:
    seats = {"customer_id": "customer-free", "feature_id": "feature-seats"}
    assert sdk.response("GetMeteredEntitlement", {**seats, "options": {"requested_usage": 1}})["has_access"]
    reported = sdk.response(
        "ReportUsage", {**seats, "value": 2, "update_behavior": "USAGE_UPDATE_BEHAVIOR_SET"}
    )
    assert reported["current_usage"] == 2, "the new total, not 1 + 2"
    full = sdk.response("GetMeteredEntitlement", {**seats, "options": {"requested_usage": 1}})
    assert (full["has_access"], full["entitlement"]["current_usage"]) == (False, 2)
    await _upstream_has(emulator, "customer-free", {"feature-seats": 2})


async def test_bulk_then_checks(sdk: stigg_sdk.SdkClient, emulator: launcher.RunningEmulator) -> None:
    _calls(sdk, "customer-pro", 0)  # held: 99000 calls
    bulk = sdk.response(
        "ReportUsageBulk",
        {
            "usages": [
                {"customer_id": "customer-pro", "feature_id": "feature-api-calls", "value": 600},
                {"customer_id": "customer-pro", "feature_id": "feature-api-calls", "value": 400},
            ]
        },
    )
    assert [u["current_usage"] for u in bulk["usages"]] == [99600, 100000], "applied in order"
    soft = _calls(sdk, "customer-pro", 1)
    assert (
        soft["has_access"],
        soft["entitlement"]["current_usage"],
        soft["entitlement"]["has_soft_limit"],
    ) == (
        True,
        100000,
        True,
    ), "at the soft limit and past it: still granted"
    await _upstream_has(emulator, "customer-pro", {"feature-api-calls": 100000})
