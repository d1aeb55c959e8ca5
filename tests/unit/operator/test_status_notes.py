"""Informational conditions: defaults over the env budget are said in the status (DefaultsInEnv
False, OverEnvBudget), and the resource stays Ready, since the ConfigMap still carries them."""

from __future__ import annotations

import datetime
from typing import Any

from stigg_operator import limits, model, reconcile

NOW = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)


def _config(defaults: dict[str, Any]) -> model.EffectiveConfig:
    return model.effective("shop", "shop", {"offline": True, "defaults": defaults}, model.OperatorDefaults())


def _conditions(config: model.EffectiveConfig) -> dict[str, dict[str, Any]]:
    body = reconcile.status(
        problem=None,
        generation=3,
        injected_pods=0,
        configmap_name=config.configmap_name,
        previous_conditions=[],
        now=NOW,
        notes=[reconcile.defaults_env_note(config)],
    )
    return {c["type"]: c for c in body["conditions"]}


def test_over_the_budget_is_a_note_not_a_failure() -> None:
    big = {f"f{i}": {"enumValues": [f"value-{i}-{j}" for j in range(10)]} for i in range(1000)}
    conditions = _conditions(_config(big))
    assert conditions["Ready"]["status"] == "True"
    assert conditions["Degraded"]["status"] == "False"
    note = conditions[reconcile.DEFAULTS_IN_ENV]
    assert (note["status"], note["reason"]) == ("False", "OverEnvBudget")
    assert note["message"].startswith("spec.defaults: ")
    assert f"over the {limits.ENV_DEFAULTS_BUDGET}-byte budget" in note["message"]
    assert note["observedGeneration"] == 3


def test_within_the_budget_is_said_too() -> None:
    note = _conditions(_config({"feature-a": {"hasAccess": True}}))[reconcile.DEFAULTS_IN_ENV]
    assert (note["status"], note["reason"]) == ("True", "WithinEnvBudget")
