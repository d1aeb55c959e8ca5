"""The circuit breaker opens after consecutive failures, lets one trial through after the pause,
and closes on its success or reopens on its failure."""

from __future__ import annotations

from stigg_sidecar.upstream import breaker


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_threshold_and_recovers_through_one_trial() -> None:
    clock = Clock()
    circuit = breaker.Breaker(failures=3, reset_after=10, clock=clock)
    for _ in range(2):
        assert circuit.allow()
        circuit.failure()
    assert circuit.state is breaker.State.CLOSED
    circuit.failure()
    assert circuit.state is breaker.State.OPEN
    assert not circuit.allow()

    clock.now = 10
    assert circuit.state is breaker.State.HALF_OPEN
    assert circuit.allow(), "one trial after the pause"
    assert not circuit.allow(), "only one trial at a time"
    circuit.failure()
    assert circuit.state is breaker.State.OPEN, "a failed trial reopens for another pause"

    clock.now = 20
    assert circuit.allow()
    circuit.success()
    assert circuit.state is breaker.State.CLOSED
    assert circuit.allow()


def test_a_success_resets_the_count() -> None:
    circuit = breaker.Breaker(failures=2, reset_after=10, clock=Clock())
    circuit.failure()
    circuit.success()
    circuit.failure()
    assert circuit.state is breaker.State.CLOSED
