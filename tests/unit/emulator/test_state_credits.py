"""Credits in the emulator's state, with a controllable clock: usage reported for a feature with
a credit rate consumes credits of its currency (increases only), ``ReportUsage`` answers the
consumption, the stream gets a ``usageUpdatedV2`` for the feature and for the currency, and the
credits consumed reset with the grant's period."""

from __future__ import annotations

import datetime
import pathlib
from typing import Any

import pytest

from stigg_emulator import catalog, loading, state, stream

PRO_API_CALLS = "      feature-api-calls: {usageLimit: 100000, hasSoftLimit: true, resetPeriod: MONTH}\n"


class Clock:
    def __init__(self, now: datetime.datetime) -> None:
        self.now = now

    def __call__(self) -> datetime.datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime.datetime(2026, 3, 31, 23, 0, tzinfo=datetime.UTC))


@pytest.fixture
def published() -> list[tuple[str, dict[str, Any]]]:
    return []


@pytest.fixture
def emulator(
    tmp_path: pathlib.Path, clock: Clock, published: list[tuple[str, dict[str, Any]]]
) -> state.EmulatorState:
    text = catalog.SAMPLE_PATH.read_text()
    assert PRO_API_CALLS in text
    path = tmp_path / "catalog.yaml"
    path.write_text(
        text.replace(
            PRO_API_CALLS, PRO_API_CALLS[:-2] + ", creditRate: {amount: 2, currencyId: credits-ai}}\n"
        )
    )
    emulator = state.EmulatorState(loading.load(path), catalog_path=path, clock=clock)
    emulator.publish = lambda field, payload: published.append((field, payload))
    return emulator


def credits(emulator: state.EmulatorState) -> Any:
    return emulator.entitlements_state("customer-pro", None)["entitlementsV2"][-1]["currentUsage"]


def report(value: float, behavior: state.UpdateBehavior = state.UpdateBehavior.DELTA) -> state.UsageReport:
    return state.UsageReport(
        customer_id="customer-pro", feature_id="feature-api-calls", value=value, update_behavior=behavior
    )


def test_an_increase_consumes_credits_at_the_rate(
    emulator: state.EmulatorState, published: list[tuple[str, dict[str, Any]]]
) -> None:
    result = emulator.report_usage(report(10))
    assert result["credit"] == {
        "currencyId": "credits-ai",
        "currentUsage": 1270,
        "usagePeriodEnd": "2026-04-01T00:00:00.000Z",
        "timestamp": "2026-03-31T23:00:00.000Z",
        "consumed": 20,
    }
    assert credits(emulator) == 1270
    v2 = [payload for field, payload in published if field == stream.USAGE_UPDATED_V2]
    assert [(p["entitlementReference"], p["usage"]["currentUsage"]) for p in v2] == [
        ({"type": "FEATURE", "id": "feature-api-calls"}, 99010),
        ({"type": "CREDIT", "id": "credits-ai"}, 1270),
    ]
    assert [field for field, _ in published].count(
        stream.USAGE_UPDATED
    ) == 1  # the legacy event: features only


def test_a_decrease_consumes_nothing(emulator: state.EmulatorState) -> None:
    result = emulator.report_usage(report(500, state.UpdateBehavior.SET))  # from 99000 down to 500
    assert result["credit"]["consumed"] == 0
    assert credits(emulator) == 1250


def test_a_feature_without_a_rate_consumes_nothing(emulator: state.EmulatorState) -> None:
    result = emulator.report_usage(
        state.UsageReport(customer_id="customer-pro", feature_id="feature-seats", value=1)
    )
    assert result["credit"] is None
    assert credits(emulator) == 1250


def test_the_credits_consumed_reset_with_the_grants_period(
    emulator: state.EmulatorState, clock: Clock
) -> None:
    emulator.report_usage(report(1))
    assert credits(emulator) == 1252
    clock.now = datetime.datetime(2026, 4, 1, 0, 0, 1, tzinfo=datetime.UTC)
    assert credits(emulator) == 0
    assert emulator.report_usage(report(1))["credit"]["currentUsage"] == 2


def test_the_legacy_usage_event_has_epoch_millisecond_dates(
    emulator: state.EmulatorState, published: list[tuple[str, dict[str, Any]]]
) -> None:
    emulator.report_usage(report(1))
    [legacy] = [payload for field, payload in published if field == stream.USAGE_UPDATED]
    march = datetime.datetime(2026, 3, 1, tzinfo=datetime.UTC)
    april = datetime.datetime(2026, 4, 1, tzinfo=datetime.UTC)
    assert legacy["usage"] == {
        "__typename": "UsageMeasurementUpdated",
        "customerId": "customer-pro",
        "resourceId": None,
        "featureId": "feature-api-calls",
        "currentUsage": 99001,
        "usagePeriodStart": int(march.timestamp() * 1000),
        "usagePeriodEnd": int(april.timestamp() * 1000),
        "nextResetDate": int(april.timestamp() * 1000),
    }
    assert legacy["entitlement"]["creditRate"] == {"amount": 2, "currencyId": "credits-ai"}
