"""During an upstream outage (the emulator's ``outage`` knob), through the SDK: a held customer
is answered from the cache (not a fallback, its own request fallback ignored); a customer not
held gets the static default (``is_fallback``; a soft-limit default says ``has_soft_limit``),
else the request's own ``options.fallback`` of each kind, else a denial with UNKNOWN."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

from stigg_devkit import sidecar_launcher
from stigg_emulator import launcher
from tests import stigg_sdk
from tests.integration.sidecar import conftest

DEFAULTS = {
    "feature-sso": {"hasAccess": True},
    "feature-api-calls": {"hasAccess": True, "usageLimit": 100, "hasSoftLimit": True},
}
PRO = "customer-pro"  # never checked before the outage: nothing is held for it
HELD = {"customer_id": "customer-free", "feature_id": "feature-api-calls"}  # checked before it


@pytest.fixture(scope="module")
def outage_sdk(
    module_emulator: launcher.RunningEmulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[stigg_sdk.SdkClient]:
    """The SDK's client of a sidecar with static defaults, its upstream down after one check."""
    sidecar = sidecar_launcher.start(
        {**conftest.upstream_env(module_emulator), "ENTITLEMENTS_FALLBACK": json.dumps(DEFAULTS)},
        tmp_path_factory.mktemp("sidecar") / "sidecar.log",
    )
    try:
        with stigg_sdk.SdkClient(sidecar.grpc_target) as client:
            assert client.response("GetMeteredEntitlement", HELD)["is_fallback"] is False
            asyncio.run(conftest.set_faults(module_emulator, outage=True))
            yield client
    finally:
        sidecar.stop()


def _flags(answer: dict[str, Any]) -> tuple[Any, Any, Any]:
    return answer["has_access"], answer["is_fallback"], answer["access_denied_reason"]


def test_fallbacks_in_order(outage_sdk: stigg_sdk.SdkClient) -> None:
    sdk = outage_sdk
    cached = sdk.response(
        "GetMeteredEntitlement",
        {**HELD, "options": {"requested_usage": 10, "fallback": {"has_access": False}}},
    )
    assert _flags(cached) == (True, False, None), "the held entry answers, not the request's fallback"
    assert cached["entitlement"]["usage_limit"] == 1000

    sso = sdk.response(
        "GetBooleanEntitlement",
        {"customer_id": PRO, "feature_id": "feature-sso", "options": {"fallback": {"has_access": False}}},
    )
    assert _flags(sso) == (True, True, None), "the static default comes before the request's own"

    soft = sdk.response(
        "GetMeteredEntitlement",
        {"customer_id": PRO, "feature_id": "feature-api-calls", "options": {"requested_usage": 500}},
    )
    assert _flags(soft) == (True, True, None)
    assert (soft["entitlement"]["usage_limit"], soft["entitlement"]["has_soft_limit"]) == (100, True)

    listed = sdk.response("GetEntitlements", {"customer_id": PRO})
    metered = [entry["metered"] for entry in listed["entitlements"] if "metered" in entry]
    assert [(m["feature"]["id"], m["has_soft_limit"]) for m in metered] == [("feature-api-calls", True)]
    state = sdk.response("GetEntitlementsStateV2", {"customer_id": PRO})
    assert all(entry["is_fallback"] for entry in state["entitlements"])
    assert len(state["entitlements"]) == len(DEFAULTS)


@pytest.mark.parametrize(
    ("method", "options", "granted", "check"),
    [
        ("GetBooleanEntitlement", {"fallback": {"has_access": True}}, True, {}),
        ("GetNumericEntitlement", {"fallback": {"has_access": True, "value": 7}}, True, {"value": 7}),
        (
            "GetNumericEntitlement",
            {"fallback": {"has_access": True, "is_unlimited": True}},
            True,
            {"is_unlimited": True},
        ),
        (
            "GetMeteredEntitlement",
            {"requested_usage": 10, "fallback": {"has_access": True, "usage_limit": 10}},
            True,
            {"usage_limit": 10, "has_soft_limit": False},
        ),
        (
            "GetMeteredEntitlement",
            {"requested_usage": 11, "fallback": {"has_access": True, "usage_limit": 10}},
            False,
            {"usage_limit": 10},
        ),
        (
            "GetEnumEntitlement",
            {"requested_values": ["b"], "fallback": {"has_access": True, "enum_values": ["a", "b"]}},
            True,
            {"enum_values": ["a", "b"]},
        ),
        (
            "GetEnumEntitlement",
            {"requested_values": ["c"], "fallback": {"has_access": True, "enum_values": ["a", "b"]}},
            False,
            {"enum_values": ["a", "b"]},
        ),
        ("GetBooleanEntitlement", {"fallback": {"has_access": False}}, False, {}),
    ],
)
def test_the_request_fallback_of_each_kind(
    outage_sdk: stigg_sdk.SdkClient,
    method: str,
    options: dict[str, Any],
    granted: bool,
    check: dict[str, Any],
) -> None:
    answer = outage_sdk.response(
        method, {"customer_id": PRO, "feature_id": "feature-other", "options": options}
    )
    assert (answer["has_access"], answer["is_fallback"]) == (granted, True)
    assert {key: answer["entitlement"][key] for key in check} == check


def test_generic_getters_take_the_request_fallback_and_deny_without_one(
    outage_sdk: stigg_sdk.SdkClient,
) -> None:
    request = {
        "customer_id": PRO,
        "feature_id": "feature-other",
        "options": {"requested_usage": 3, "fallback": {"has_access": True, "usage_limit": 5}},
    }
    generic = outage_sdk.response("GetEntitlement", request)
    assert _flags(generic) == (True, True, None)
    assert generic["metered"]["usage_limit"] == 5
    v2 = outage_sdk.response("GetEntitlementV2", request)["entitlement"]
    assert _flags(v2) == (True, True, None)

    nothing = {"customer_id": PRO, "feature_id": "feature-other"}
    for method in ("GetBooleanEntitlement", "GetEntitlement"):
        assert _flags(outage_sdk.response(method, nothing)) == (False, True, "ACCESS_DENIED_REASON_UNKNOWN")
    denied_v2 = outage_sdk.response("GetEntitlementV2", nothing)["entitlement"]
    assert _flags(denied_v2) == (False, True, "ACCESS_DENIED_REASON_UNKNOWN")
