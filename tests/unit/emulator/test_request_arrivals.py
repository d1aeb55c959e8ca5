"""The request counters remember when each request arrived (the last ``ARRIVALS_KEPT``), so a
test or benchmark can tell the rate the upstream saw: by endpoint, from a moment on; the oldest
are forgotten, and counted as such; a reset forgets them all."""

from __future__ import annotations

import pytest

from stigg_emulator import state


def test_arrivals_by_endpoint_and_since_in_order() -> None:
    now = [1000.0]
    counters = state.RequestCounters(clock=lambda: now[0])
    for endpoint in ("edge:entitlements-state", "graphql:ReportUsage", "edge:entitlements-state"):
        counters.record(endpoint, ["customer-1"])
        now[0] += 0.5
    assert counters.arrivals() == [1000.0, 1000.5, 1001.0]
    assert counters.arrivals("edge:entitlements-state") == [1000.0, 1001.0]
    assert counters.arrivals("edge:entitlements-state", since=1000.25) == [1001.0]
    assert counters.arrivals("stream:graphql") == []
    counters.reset()
    assert (counters.arrivals(), counters.forgotten) == ([], 0)


def test_only_the_last_arrivals_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(state, "ARRIVALS_KEPT", 3)
    counters = state.RequestCounters(clock=lambda: 7.0)
    for _ in range(5):
        counters.record("edge:entitlements-state", [])
    assert (counters.arrivals(), counters.forgotten, counters.total) == ([7.0, 7.0, 7.0], 2, 5)
