"""``stigg_operator_resources``: resources counted by each condition type the operator writes and
its status (``metrics.condition_counts``), from kopf's index entries as ``reconciler.entry``
keeps them, of statuses ``reconcile.status`` wrote. Pure."""

from __future__ import annotations

import datetime
from typing import Any

from stigg_operator import metrics, reconcile, reconciler

NOW = datetime.datetime(2026, 12, 1, 22, 0, 0, tzinfo=datetime.UTC)
VERIFIED = reconcile.Note(reconcile.SECRETS_VERIFIED, True, "SidecarStarted", "")
IN_ENV = reconcile.Note(reconcile.DEFAULTS_IN_ENV, False, "NoDefaults", "")


def _entry(name: str, status: dict[str, Any] | None) -> dict[str, Any]:
    body: dict[str, Any] = {"metadata": {"name": name, "uid": f"uid-{name}", "generation": 1}, "spec": {}}
    if status is not None:
        body["status"] = status
    return reconciler.entry(body)


def _written(problem: reconcile.Problem | None, notes: tuple[reconcile.Note, ...]) -> dict[str, Any]:
    return reconcile.status(
        problem=problem,
        generation=1,
        injected_pods=0,
        configmap_name=None,
        previous_conditions=[],
        now=NOW,
        notes=notes,
    )


def test_each_condition_is_counted_in_the_status_last_written() -> None:
    index = {
        ("shop", "ready"): [_entry("ready", _written(None, (VERIFIED, IN_ENV)))],
        ("shop", "broken"): [
            _entry("broken", _written(reconcile.Problem("SecretNotFound", "no Secret"), (IN_ENV,)))
        ],
        ("billing", "invalid"): [
            _entry("invalid", _written(reconcile.Problem("InvalidSpec", "bad"), ()))  # no notes then
        ],
        ("billing", "new"): [_entry("new", None)],  # not reconciled yet
    }
    counts = metrics.condition_counts(index)
    assert {key: n for key, n in counts.items() if n} == {
        ("Ready", "True"): 1,
        ("Ready", "False"): 2,
        ("Ready", "Unknown"): 1,
        ("Degraded", "False"): 1,
        ("Degraded", "True"): 2,
        ("Degraded", "Unknown"): 1,
        ("SecretsVerified", "True"): 1,
        ("SecretsVerified", "Unknown"): 3,
        ("DefaultsInEnv", "False"): 2,
        ("DefaultsInEnv", "Unknown"): 2,
    }
    for kind in reconcile.CONDITIONS:
        assert sum(counts[kind, status] for status in metrics.STATUSES) == 4, "every resource, once"


def test_every_pair_is_reported_even_with_no_resource() -> None:
    counts = metrics.condition_counts({})
    assert set(counts) == {
        (kind, status)
        for kind in ("Ready", "Degraded", "DefaultsInEnv", "SecretsVerified")
        for status in ("True", "False", "Unknown")
    }
    assert set(counts.values()) == {0}


def test_odd_statuses_count_unknown_and_foreign_conditions_are_left_out() -> None:
    conditions = [
        {"type": "Ready", "status": "Maybe"},
        {"type": "SomeoneElses", "status": "True"},
    ]
    counts = metrics.condition_counts({("shop", "odd"): [_entry("odd", {"conditions": conditions})]})
    assert counts["Ready", "Unknown"] == 1
    assert counts["Ready", "True"] == 0
    assert not any(kind == "SomeoneElses" for kind, _ in counts), "bounded: the operator's own types"


def test_the_gauge_follows_the_index_and_a_lost_lease_clears_it() -> None:
    instruments = metrics.Metrics()
    instruments.leadership_changed(True)
    instruments.count_resources({("shop", "ready"): [_entry("ready", _written(None, (VERIFIED, IN_ENV)))]})
    value = instruments.registry.get_sample_value
    assert value("stigg_operator_resources", {"condition": "Ready", "status": "True"}) == 1
    assert value("stigg_operator_resources", {"condition": "Ready", "status": "False"}) == 0
    instruments.count_resources({})
    assert value("stigg_operator_resources", {"condition": "Ready", "status": "True"}) == 0
    instruments.leadership_changed(False)
    assert value("stigg_operator_resources", {"condition": "Ready", "status": "False"}) is None, (
        "a follower exports no leader-only series"
    )
    assert value("stigg_operator_leader") == 0
