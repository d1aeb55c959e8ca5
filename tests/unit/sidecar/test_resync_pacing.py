"""Pacing a fleet's background work: the token bucket's schedule (at most ``rate`` a second,
``burst`` at once), the jittered start of a resync, and the stream's reconnect backoff, drawn
over its whole window so that replicas dropped together do not reconnect in lockstep. Pure:
an injected clock and random draw, no sleeping."""

from __future__ import annotations

import pytest

from stigg_sidecar import pacing
from stigg_sidecar.upstream import stream


def test_reservations_made_together_are_due_one_interval_apart() -> None:
    bucket = pacing.TokenBucket(10.0, clock=lambda: 5.0)
    assert [round(bucket.reserve(), 9) for _ in range(5)] == [0.0, 0.1, 0.2, 0.3, 0.4]


def test_a_caller_waiting_what_it_is_told_never_exceeds_the_rate() -> None:
    now = [0.0]
    bucket = pacing.TokenBucket(20.0, burst=3, clock=lambda: now[0])
    used: list[float] = []
    for _ in range(200):
        now[0] += bucket.reserve()  # the caller sleeps as told, then uses its token
        used.append(now[0])
    assert used[:3] == [0.0, 0.0, 0.0], "the burst is available at once"
    assert used[-1] == pytest.approx((200 - 3) / 20.0)
    for start in used:  # in any one-second window: at most the rate, plus the burst
        assert sum(1 for t in used if start <= t < start + 1.0) <= 20 + 3


def test_idle_time_refills_the_bucket_only_up_to_its_burst() -> None:
    now = [0.0]
    bucket = pacing.TokenBucket(4.0, burst=2, clock=lambda: now[0])
    assert bucket.reserve() == 0.0
    now[0] = 3600.0  # an hour idle
    waits = [bucket.reserve() for _ in range(4)]
    assert waits == [0.0, 0.0, 0.25, 0.5]


def test_a_bucket_needs_a_positive_finite_rate_and_a_burst_of_one_or_more() -> None:
    for rate in (0.0, -1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="rate"):
            pacing.TokenBucket(rate, clock=lambda: 0.0)
    with pytest.raises(ValueError, match="burst"):
        pacing.TokenBucket(1.0, burst=0.5, clock=lambda: 0.0)


def test_a_resync_starts_within_its_jitter_window() -> None:
    windows: list[tuple[float, float]] = []

    def draw(low: float, high: float) -> float:
        windows.append((low, high))
        return high

    assert pacing.start_delay(5.0, draw) == 5.0
    assert windows == [(0.0, 5.0)]
    assert pacing.start_delay(0.0, draw) == 0.0, "no window: at once, without a draw"
    assert len(windows) == 1
    delays = [pacing.start_delay(5.0) for _ in range(1000)]
    assert all(0.0 <= d <= 5.0 for d in delays)
    assert min(delays) < 0.5, "spread over the whole window"
    assert max(delays) > 4.5


def test_the_reconnect_backoff_draws_over_its_whole_doubling_window() -> None:
    windows: list[tuple[float, float]] = []

    def draw(low: float, high: float) -> float:
        windows.append((low, high))
        return low

    for failures in range(10):
        assert stream.reconnect_delay(failures, base=0.25, cap=30.0, draw=draw) == 0.0
    assert windows == [(0.0, min(30.0, 0.25 * 2**n)) for n in range(10)]
    assert stream.reconnect_delay(10**6, base=0.25, cap=30.0, draw=lambda low, high: high) == 30.0


def test_replicas_dropped_together_reconnect_spread_over_the_window() -> None:
    first = sorted(stream.reconnect_delay(0, base=0.25, cap=30.0) for _ in range(1000))
    assert first[0] < 0.02, "over all of [0, 0.25 s], not its upper half"
    assert first[-1] > 0.23
    later = [stream.reconnect_delay(6, base=0.25, cap=30.0) for _ in range(1000)]
    assert all(0.0 <= d <= 16.0 for d in later)
    assert min(later) < 1.0
    assert max(later) > 15.0
