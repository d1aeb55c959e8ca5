"""Reset periods are calendar-aligned in UTC; the end is the next reset."""

from __future__ import annotations

import datetime

import pytest

from stigg_emulator import catalog
from stigg_sidecar import model

UTC = datetime.UTC


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime.datetime:
    return datetime.datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("period", "now", "start", "end"),
    [
        (model.ResetPeriod.HOUR, at(2026, 3, 14, 15, 59), at(2026, 3, 14, 15), at(2026, 3, 14, 16)),
        (model.ResetPeriod.DAY, at(2026, 12, 31, 23, 30), at(2026, 12, 31), at(2027, 1, 1)),
        (model.ResetPeriod.WEEK, at(2026, 3, 14, 12), at(2026, 3, 9), at(2026, 3, 16)),  # a Saturday
        (model.ResetPeriod.WEEK, at(2026, 3, 9), at(2026, 3, 9), at(2026, 3, 16)),  # Monday midnight
        (model.ResetPeriod.MONTH, at(2026, 12, 5), at(2026, 12, 1), at(2027, 1, 1)),
        (model.ResetPeriod.MONTH, at(2028, 2, 29, 23), at(2028, 2, 1), at(2028, 3, 1)),
        (model.ResetPeriod.YEAR, at(2026, 7, 4), at(2026, 1, 1), at(2027, 1, 1)),
    ],
)
def test_usage_period(
    period: model.ResetPeriod, now: datetime.datetime, start: datetime.datetime, end: datetime.datetime
) -> None:
    assert catalog.usage_period(period, now) == (start, end)


def test_a_local_time_is_placed_in_its_utc_period() -> None:
    tokyo = datetime.timezone(datetime.timedelta(hours=9))
    local = datetime.datetime(2026, 4, 1, 5, 0, tzinfo=tokyo)  # still March 31st in UTC
    assert catalog.usage_period(model.ResetPeriod.MONTH, local) == (at(2026, 3, 1), at(2026, 4, 1))
