"""Fault settings validate their fields by name, and seeded error draws are reproducible."""

from __future__ import annotations

import pytest

from stigg_emulator import faults


def test_defaults_mirror_the_real_edge_api() -> None:
    settings = faults.FaultSettings()
    assert settings.as_json() == {
        "latencyMs": 100.0,
        "jitterMs": 0.0,
        "errorRate": 0.0,
        "outage": False,
        "writeOutage": False,
        "legacyOnly": False,
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"latencyMs": -1}, "latencyMs: must be a number of milliseconds >= 0, got -1.0"),
        ({"jitterMs": "fast"}, "jitterMs: must be a number, got 'fast'"),
        ({"errorRate": 1.5}, "errorRate: must be between 0 and 1, got 1.5"),
        ({"errorRate": True}, "errorRate: must be a number, got True"),
        ({"outage": "yes"}, "outage: must be true or false, got 'yes'"),
    ],
)
def test_invalid_updates_name_the_field(body: dict[str, object], message: str) -> None:
    with pytest.raises(faults.FaultSettingsError) as raised:
        faults.FaultSettings().updated(body)
    assert str(raised.value) == message


def test_a_partial_update_keeps_the_other_fields() -> None:
    settings = faults.FaultSettings(latency_ms=5, error_rate=0.25).updated({"outage": True})
    assert settings == faults.FaultSettings(latency_ms=5, error_rate=0.25, outage=True)


def test_seeded_error_draws_repeat_and_follow_the_rate() -> None:
    def draws(seed: int) -> list[int | None]:
        source = faults.Faults(faults.FaultSettings(error_rate=0.3), seed=seed)
        return [source.failure() for _ in range(2000)]

    first = draws(7)
    assert first == draws(7)
    assert first != draws(8)
    failed = sum(1 for status in first if status == faults.ERROR_STATUS)
    assert 500 < failed < 700  # about 30% of 2000


def test_jitter_only_adds_to_the_latency() -> None:
    source = faults.Faults(faults.FaultSettings(latency_ms=100, jitter_ms=50), seed=1)
    delays = [source.delay() for _ in range(500)]
    assert min(delays) >= 0.1
    assert max(delays) <= 0.15
    assert max(delays) - min(delays) > 0.04  # the jitter is really drawn


async def test_an_outage_answers_at_once_without_latency() -> None:
    source = faults.Faults(faults.FaultSettings(latency_ms=60_000, outage=True))
    assert await source.apply() == faults.OUTAGE_STATUS  # would hang a minute if it waited
