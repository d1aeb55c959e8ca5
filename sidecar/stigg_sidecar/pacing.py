"""Pacing background work so that many replicas doing it at once do not stampede the upstream.

* ``TokenBucket``: at most ``rate`` units a second on average and ``burst`` at once. It is a
  schedule, not a sleeper: ``reserve`` takes a token and says how long to wait before using it
  (0: at once); reservations are honoured in order, each ``1 / rate`` after the previous once
  the burst is spent, so a caller that reserves, sleeps what it was told and then acts never
  exceeds the rate, and reserving one at a time (as the resync does) never queues far ahead.
* ``start_delay``: a uniform random delay within a window (the start of a resync), so that
  replicas told the same thing at the same moment (a stream dropped for all of them) spread
  their work over the window instead of starting together.

The clock and the random draw are injected, so a schedule is a pure function of them (the
unit tests check it without sleeping).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

Draw = Callable[[float, float], float]


class TokenBucket:
    """See the module docstring."""

    def __init__(self, rate: float, *, burst: float = 1.0, clock: Callable[[], float]) -> None:
        if not (rate > 0 and math.isfinite(rate)):
            raise ValueError(f"rate must be a positive number, got {rate!r}")
        if not burst >= 1:
            raise ValueError(f"burst must be at least 1, got {burst!r}")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = burst  # may go negative: tokens reserved ahead of their time
        self._stamp = clock()

    def reserve(self) -> float:
        """Take one token: the seconds to wait before using it (0.0: it is available now)."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate


def start_delay(window: float, draw: Draw = random.uniform) -> float:
    """A delay drawn uniformly within ``[0, window]`` seconds (0 for no window)."""
    return draw(0.0, window) if window > 0 else 0.0
