"""Stigg's Python API client (stigg-api-client-v2 6.25.0, in its own environment) against the
emulator, through the Edge API and through GraphQL: it validates every answer with its pydantic
models, and what it reads is the sample catalog."""

from __future__ import annotations

import pathlib
import urllib.request
from typing import Any

import pytest

from stigg_emulator import launcher
from tests.integration.emulator import peers


@pytest.fixture(scope="module")
def answers(emulator_process: launcher.RunningEmulator, stigg_python_client: pathlib.Path) -> dict[str, Any]:
    """Every call's outcome, from one run of the client against a freshly reset emulator."""
    reset = urllib.request.Request(f"{emulator_process.admin_url}/reset", method="POST")  # noqa: S310
    with urllib.request.urlopen(reset, timeout=10) as response:  # noqa: S310 -- the emulator on loopback
        assert response.status == 200
    env = peers.loopback_env(
        EMULATOR_URL=emulator_process.base_url, EMULATOR_API_KEY=emulator_process.api_key
    )
    results: dict[str, Any] = peers.run_json(
        [str(stigg_python_client), str(peers.PYTHON_CLIENT_SCRIPT), "calls"], env=env
    )
    return results


def value(answers: dict[str, Any], name: str) -> Any:
    assert answers[name]["ok"], answers[name]
    return answers[name]["value"]


def test_every_answer_passes_the_clients_validation(answers: dict[str, Any]) -> None:
    failed = {name: result["error"] for name, result in answers.items() if not result["ok"]}
    assert failed == {}
    assert len(answers) == 34  # 15 reads each through the Edge API and GraphQL, the SDK config, 3 writes


@pytest.mark.parametrize("via", ["edge", "graphql"])
def test_the_state_it_reads_is_the_catalogs(answers: dict[str, Any], via: str) -> None:
    state = value(answers, f"{via}:get_entitlements_state:pro")["entitlementsState"]
    assert state["accessDeniedReason"] is None
    by_feature = {e["feature"]["refId"]: e for e in state["entitlements"]}
    assert (by_feature["feature-seats"]["usageLimit"], by_feature["feature-seats"]["currentUsage"]) == (15, 7)
    assert value(answers, f"{via}:get_entitlements_state:kinds") == [
        *["GetEntitlementsStateEntitlementsStateEntitlementsV2FeatureEntitlement"] * 5,
        "GetEntitlementsStateEntitlementsStateEntitlementsV2CreditEntitlement",
    ]
    [credit] = [e for e in state["entitlementsV2"] if e["__typename"] == "CreditEntitlement"]
    assert credit["currency"] == {
        "currencyId": "credits-ai",
        "displayName": "AI credits",
        "description": "Prepaid credits spent by the AI assistant",
        "unitSingular": "credit",
        "unitPlural": "credits",
        "additionalMetaData": {"category": "ai", "billing": "prepaid"},
    }
    assert (credit["usageLimit"], credit["currentUsage"], credit["hasSoftLimit"]) == (5000, 1250, False)
    legacy = value(answers, f"{via}:get_entitlements:workspace")["entitlements"]
    assert {e["feature"]["refId"]: e["usageLimit"] for e in legacy}["feature-seats"] == 10


@pytest.mark.parametrize("via", ["edge", "graphql"])
@pytest.mark.parametrize(
    ("holder", "reason"),
    [
        ("unknown", "CustomerNotFound"),
        ("archived", "CustomerIsArchived"),
        ("unsubscribed", "NoActiveSubscription"),
    ],
)
def test_denied_states_carry_a_state_reason_and_legacy_reads_are_empty(
    answers: dict[str, Any], via: str, holder: str, reason: str
) -> None:
    state = value(answers, f"{via}:get_entitlements_state:{holder}")["entitlementsState"]
    assert (state["accessDeniedReason"], state["entitlements"], state["entitlementsV2"]) == (reason, [], [])
    assert value(answers, f"{via}:get_entitlements:{holder}") == {"entitlements": []}


@pytest.mark.parametrize("via", ["edge", "graphql"])
def test_one_entitlement_with_a_requested_usage(answers: dict[str, Any], via: str) -> None:
    over = value(answers, f"{via}:get_entitlement:over-limit")["entitlement"]
    assert (over["isGranted"], over["accessDeniedReason"], over["currentUsage"]) == (
        False,
        "RequestedUsageExceedingLimit",
        250,
    )
    unknown = value(answers, f"{via}:get_entitlement:unknown-feature")["entitlement"]
    assert (unknown["isGranted"], unknown["accessDeniedReason"]) == (False, "FeatureNotFound")


def test_writes_and_the_sdk_configuration(answers: dict[str, Any]) -> None:
    assert value(answers, "graphql:report_usage")["reportUsage"]["currentUsage"] == 255
    bulk = value(answers, "graphql:report_usage_bulk")["reportUsageBulk"]
    assert [(m["featureId"], m["currentUsage"]) for m in bulk] == [
        ("feature-seats", 2),
        ("feature-api-calls", 3),
    ]
    assert value(answers, "graphql:report_event") == {"reportEvent": None}
    assert value(answers, "graphql:get_sdk_configuration") == {
        "sdkConfiguration": {"sentryDsn": None, "isWidgetWatermarkEnabled": False, "showWatermark": False}
    }
