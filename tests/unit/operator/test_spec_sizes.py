"""Sizes: the rendered defaults ConfigMap must fit the apiserver's 1 MiB (else a ``SpecError``
naming spec.defaults and the size), and the env copy of the defaults (``ENTITLEMENTS_FALLBACK``)
is injected only within its 32 KiB budget, far below Linux's 128 KiB for one variable."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stigg_operator import limits, model, reconcile
from stigg_operator.injection import overrides, template


def _defaults(features: int, values: int) -> dict[str, Any]:
    """Schema-valid defaults: ``features`` enum features of ``values`` values each."""
    return {
        f"feature-{i:04d}": {
            "hasAccess": True,
            "enumValues": [f"value-{i:04d}-{j:02d}" for j in range(values)],
        }
        for i in range(features)
    }


def _effective(defaults: dict[str, Any]) -> model.EffectiveConfig:
    return model.effective("shop", "shop", {"offline": True, "defaults": defaults}, model.OperatorDefaults())


def _env(config: model.EffectiveConfig) -> dict[str, str]:
    container = template.sidecar_container(config, overrides.Overrides())
    return {var["name"]: var.get("value", "") for var in container["env"]}


def test_defaults_over_the_budget_stay_out_of_the_env() -> None:
    config = _effective(_defaults(1000, 10))  # 1,000 features x 10 enum values
    assert len(limits.env_defaults_text(config.defaults)) > limits.MAX_ARG_STRLEN  # the old env var
    env = _env(config)
    assert limits.ENV_DEFAULTS_VAR not in env
    assert max(len(f"{name}={value}".encode()) for name, value in env.items()) < limits.MAX_ARG_STRLEN
    assert env["SIDECAR_DEFAULTS_DIR"]  # the ConfigMap still carries them
    assert "feature-0999" in reconcile.configmap(config, "uid")["data"]["defaults.json"]


def test_defaults_within_the_budget_are_in_the_env() -> None:
    config = _effective(_defaults(20, 3))
    assert json.loads(_env(config)[limits.ENV_DEFAULTS_VAR]) == config.defaults


def test_the_budget_is_a_byte_boundary() -> None:
    text = limits.env_defaults_text({"f": {"enumValues": ["x"]}})
    pad = limits.ENV_DEFAULTS_BUDGET - len(text)
    at_budget = {"f": {"enumValues": ["x" * (1 + pad)]}}
    assert len(limits.env_defaults_text(at_budget)) == limits.ENV_DEFAULTS_BUDGET
    assert limits.env_defaults(at_budget) is not None
    over = {"f": {"enumValues": ["x" * (2 + pad)]}}
    assert limits.env_defaults(over) is None


def test_a_configmap_over_one_mebibyte_is_a_spec_error_naming_spec_defaults() -> None:
    with pytest.raises(model.SpecError) as raised:
        _effective(_defaults(1000, 60))
    message = str(raised.value)
    assert message.startswith("spec.defaults: the rendered ConfigMap's data is ")
    size = int(message.split(" is ")[1].split(maxsplit=1)[0])
    assert size > limits.CONFIGMAP_DATA_MAX
    assert "1048576 (1 MiB)" in message


def test_a_configmap_just_under_one_mebibyte_passes() -> None:
    config = _effective(_defaults(1000, 40))
    size = len(reconcile.configmap(config, "uid")["data"]["defaults.json"].encode())
    assert 500_000 < size <= limits.CONFIGMAP_DATA_MAX
