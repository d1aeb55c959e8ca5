"""The leader election's rules (``leadership.may_take``, ``claim``, ``released``, ``Timing``):
client-go's, judged by this replica's clock, never by the holder's timestamps. Pure."""

from __future__ import annotations

import datetime

from stigg_operator import leadership

NOW = datetime.datetime(2026, 12, 1, 22, 0, 0, 123456, tzinfo=datetime.UTC)
HELD = {"holderIdentity": "a_1", "leaseDurationSeconds": 15, "renewTime": "2020-01-01T00:00:00.000000Z"}


def test_a_free_or_own_lease_may_be_taken_at_once() -> None:
    assert leadership.may_take(None, "b_2", 0.0, 15)
    assert leadership.may_take({"holderIdentity": None}, "b_2", 0.0, 15)
    assert leadership.may_take({"holderIdentity": ""}, "b_2", 0.0, 15)
    assert leadership.may_take(HELD, "a_1", 0.0, 15)


def test_another_holder_is_waited_out_for_its_duration_by_our_clock() -> None:
    assert not leadership.may_take(HELD, "b_2", 14.9, 60), "its renewTime of 2020 is never compared"
    assert leadership.may_take(HELD, "b_2", 15.1, 60)
    assert not leadership.may_take({"holderIdentity": "a_1"}, "b_2", 30, 60), "no duration: the default"


def test_claim_counts_a_transition_only_for_a_new_holder() -> None:
    taken = leadership.claim(HELD, "b_2", NOW, 15)
    assert taken == {
        "holderIdentity": "b_2",
        "leaseDurationSeconds": 15,
        "acquireTime": "2026-12-01T22:00:00.123456Z",
        "renewTime": "2026-12-01T22:00:00.123456Z",
        "leaseTransitions": 1,
    }
    later = NOW + datetime.timedelta(seconds=2)
    renewed = leadership.claim(taken, "b_2", later, 15)
    assert renewed["acquireTime"] == taken["acquireTime"]
    assert renewed["renewTime"] == "2026-12-01T22:00:02.123456Z"
    assert renewed["leaseTransitions"] == 1
    assert leadership.claim(None, "a_1", NOW, 0.4)["leaseDurationSeconds"] == 1


def test_a_released_lease_is_free_and_expires_at_once() -> None:
    spec = leadership.released(leadership.claim(None, "a_1", NOW, 15), NOW)
    assert spec["holderIdentity"] is None
    assert spec["leaseDurationSeconds"] == 1
    assert leadership.may_take(spec, "b_2", 0.0, 15)


def test_the_leader_steps_down_before_anyone_may_take_over() -> None:
    timing = leadership.Timing.from_lease_duration(15)
    assert (timing.lease_duration, timing.renew_deadline, timing.retry_period) == (15, 10, 2)
    for seconds in (1, 3, 15, 60, 300):
        short = leadership.Timing.from_lease_duration(seconds)
        assert short.retry_period < short.renew_deadline < short.lease_duration or seconds == 1
