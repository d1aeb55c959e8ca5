"""The elector tells ``on_change`` of every gain and loss of the Lease (what sets
``stigg_operator_leader`` and clears the leader-only metrics), and of nothing else: a renewal,
or a failed look within the renew deadline, changes nothing. Pure: ``Elector._update`` is fed
what ``_attempt`` would have found, on a clock of the test's."""

from __future__ import annotations

from stigg_operator import leadership, metrics


def test_gains_and_losses_are_reported_once_each() -> None:
    now = [100.0]
    changes: list[bool] = []
    elector = leadership.Elector(
        lambda: None,  # type: ignore[arg-type,return-value]  # never called: _attempt is not run
        "ops-system",
        "stigg-operator",
        "me",
        leadership.Timing.from_lease_duration(15),
        clock=lambda: now[0],
        on_change=changes.append,
    )
    elector._renewed_at = now[0]
    elector._update(True)
    elector._update(True)  # renewed
    now[0] += 5
    elector._update(None)  # could not tell, within the renew deadline (10 s)
    assert changes == [True]
    now[0] += 6
    elector._update(None)  # past it: stepped down
    elector._update(False)
    assert changes == [True, False]
    elector._update(True)
    elector._update(False)  # another replica took it
    assert changes == [True, False, True, False]


def test_the_leader_gauge_follows_the_elector() -> None:
    instruments = metrics.Metrics()
    assert instruments.registry.get_sample_value("stigg_operator_leader") == 0, "a follower until elected"
    elector = leadership.Elector(
        lambda: None,  # type: ignore[arg-type,return-value]  # never called
        "ops-system",
        "stigg-operator",
        "me",
        leadership.Timing.from_lease_duration(15),
        on_change=instruments.leadership_changed,
    )
    elector._update(True)
    assert instruments.registry.get_sample_value("stigg_operator_leader") == 1
    elector._update(False)
    assert instruments.registry.get_sample_value("stigg_operator_leader") == 0
