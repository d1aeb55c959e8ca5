"""A circuit breaker: stop calling an upstream that keeps failing, try again after a pause.

Closed: calls go through; ``failures`` consecutive failures open it. Open: calls are refused
at once (the sidecar then serves stale cache or defaults without waiting on timeouts) until
``reset_after`` seconds have passed. Half-open: one trial call goes through; its success
closes the breaker, its failure opens it again for another ``reset_after``.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable


class State(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class Breaker:
    def __init__(
        self, *, failures: int, reset_after: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._threshold = failures
        self._reset_after = reset_after
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_running = False

    @property
    def state(self) -> State:
        if self._opened_at is None:
            return State.CLOSED
        if self._clock() - self._opened_at >= self._reset_after:
            return State.HALF_OPEN
        return State.OPEN

    def allow(self) -> bool:
        """May a call go through now? In half-open state, only one trial at a time."""
        state = self.state
        if state is State.CLOSED:
            return True
        if state is State.HALF_OPEN and not self._trial_running:
            self._trial_running = True
            return True
        return False

    def success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._trial_running = False

    def failure(self) -> None:
        self._trial_running = False
        if self._opened_at is not None:  # a failed trial: open for another period
            self._opened_at = self._clock()
            return
        self._failures += 1
        if self._failures >= self._threshold:
            self._opened_at = self._clock()
