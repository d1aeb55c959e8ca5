"""Usage bookkeeping in the emulator's state, with a controllable clock: DELTA and SET,
idempotency keys, all-or-nothing bulk reports, and resets at period boundaries."""

from __future__ import annotations

import datetime

import pytest

from stigg_emulator import catalog, loading, state


class Clock:
    def __init__(self, now: datetime.datetime) -> None:
        self.now = now

    def __call__(self) -> datetime.datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime.datetime(2026, 3, 31, 23, 59, tzinfo=datetime.UTC))


@pytest.fixture
def emulator(clock: Clock) -> state.EmulatorState:
    return state.EmulatorState(
        loading.load(catalog.SAMPLE_PATH), catalog_path=catalog.SAMPLE_PATH, clock=clock
    )


def calls(emulator: state.EmulatorState, customer_id: str = "customer-free") -> object:
    entitlements = emulator.entitlements_state(customer_id, None)["entitlements"]
    return next(e["currentUsage"] for e in entitlements if e["feature"]["refId"] == "feature-api-calls")


def report(value: float, **fields: object) -> state.UsageReport:
    defaults: dict[str, object] = {"customer_id": "customer-free", "feature_id": "feature-api-calls"}
    return state.UsageReport(value=value, **(defaults | fields))  # type: ignore[arg-type]


def test_delta_adds_and_set_replaces(emulator: state.EmulatorState) -> None:
    assert emulator.report_usage(report(5))["currentUsage"] == 255
    assert emulator.report_usage(report(40, update_behavior=state.UpdateBehavior.SET))["currentUsage"] == 40
    assert emulator.report_usage(report(-15))["currentUsage"] == 25
    assert calls(emulator) == 25


def test_a_repeated_idempotency_key_returns_the_first_result(emulator: state.EmulatorState) -> None:
    first = emulator.report_usage(report(10, idempotency_key="k-1"))
    again = emulator.report_usage(report(10, idempotency_key="k-1"))
    assert again == first
    assert calls(emulator) == 260


def test_a_bulk_report_with_one_bad_entry_changes_nothing(emulator: state.EmulatorState) -> None:
    with pytest.raises(state.UpstreamError) as raised:
        emulator.report_usage_bulk([report(1), report(1, feature_id="feature-sso")])
    assert raised.value.code == "MeteringNotAvailableForFeatureType"
    assert calls(emulator) == 250


def test_usage_resets_when_its_period_ends(emulator: state.EmulatorState, clock: Clock) -> None:
    result = emulator.report_usage(report(50))
    assert (result["currentUsage"], result["nextResetDate"]) == (300, "2026-04-01T00:00:00.000Z")
    clock.now += datetime.timedelta(minutes=2)  # April now
    assert calls(emulator) == 0
    assert emulator.report_usage(report(7))["currentUsage"] == 7
    assert emulator.report_usage(report(1))["usagePeriodStart"] == "2026-04-01T00:00:00.000Z"


def test_a_gauge_never_resets(emulator: state.EmulatorState, clock: Clock) -> None:
    emulator.report_usage(report(2, feature_id="feature-seats", update_behavior=state.UpdateBehavior.SET))
    clock.now += datetime.timedelta(days=400)
    usage = emulator.usage_of("customer-free")
    assert usage is not None
    assert usage["usage"]["feature-seats"] == 2


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"customer_id": "nobody"}, "CustomerNotFound"),
        ({"customer_id": "customer-archived"}, "CustomerNotFound"),
        ({"feature_id": "feature-nope"}, "FeatureNotFound"),
        ({"feature_id": "feature-max-projects"}, "MeteringNotAvailableForFeatureType"),
        ({"resource_id": "workspace-eu"}, "CustomerResourceNotFound"),  # customer-free has no resources
    ],
)
def test_refused_reports(emulator: state.EmulatorState, fields: dict[str, object], code: str) -> None:
    with pytest.raises(state.UpstreamError) as raised:
        emulator.report_usage(report(1, **fields))
    assert raised.value.code == code


def test_resource_usage_is_kept_apart_from_the_customers(emulator: state.EmulatorState) -> None:
    emulator.report_usage(report(5, customer_id="customer-enterprise", resource_id="workspace-eu"))
    usage = emulator.usage_of("customer-enterprise")
    assert usage is not None
    assert usage["usage"]["feature-api-calls"] == 5_400_000
    assert usage["resources"]["workspace-eu"]["feature-api-calls"] == 1205
    assert usage["resources"]["workspace-sandbox"] == {}
