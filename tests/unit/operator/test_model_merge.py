"""cluster-default is inherited field by field, and feature by feature for defaults."""

from __future__ import annotations

import pytest

from stigg_operator import model

CLUSTER = {
    "apiKeySecretRef": {"name": "stigg-api-key"},
    "upstream": {"apiUrl": "https://api.example", "edgeEnabled": True, "realtime": True},
    "sidecar": {"logLevel": "warn", "resources": {"limits": {"memory": "128Mi"}}},
    "defaults": {"feature-a": {"hasAccess": True, "usageLimit": 5}, "feature-b": {"hasAccess": False}},
}


def test_field_by_field_and_feature_by_feature() -> None:
    merged = model.merge_specs(
        CLUSTER,
        {
            "upstream": {"realtime": False},
            "sidecar": {"image": "example/sidecar:2"},
            "defaults": {"feature-a": {"usageLimit": 50}, "feature-c": {"value": 3}},
        },
    )
    assert merged["upstream"] == {"apiUrl": "https://api.example", "edgeEnabled": True, "realtime": False}
    assert merged["sidecar"] == {
        "logLevel": "warn",
        "resources": {"limits": {"memory": "128Mi"}},
        "image": "example/sidecar:2",
    }
    assert merged["defaults"] == {
        "feature-a": {"usageLimit": 50},  # a feature the namespace names is replaced whole
        "feature-b": {"hasAccess": False},
        "feature-c": {"value": 3},
    }
    assert merged["apiKeySecretRef"] == {"name": "stigg-api-key"}


def test_effective_config_fills_operator_defaults() -> None:
    config = model.effective(
        "shop", "main", CLUSTER, model.OperatorDefaults(sidecar_image="example/sidecar:1")
    )
    assert config.sidecar.image == "example/sidecar:1"
    assert config.sidecar.log_level == "warn"
    assert (config.api_key.name, config.api_key.key) == ("stigg-api-key", "SERVER_API_KEY")
    assert config.configmap_name == "main-stigg-defaults"
    assert config.failure_policy == "Fail"
    assert config.defaults_document().startswith('{\n  "feature-a"')


def test_wiring_hash_ignores_default_values() -> None:
    base = model.effective("shop", "main", CLUSTER, model.OperatorDefaults())
    other_defaults = model.effective(
        "shop", "main", {**CLUSTER, "defaults": {"feature-z": {"hasAccess": True}}}, model.OperatorDefaults()
    )
    other_image = model.effective(
        "shop", "main", model.merge_specs(CLUSTER, {"sidecar": {"image": "x/y:2"}}), model.OperatorDefaults()
    )
    assert base.wiring_hash() == other_defaults.wiring_hash()
    assert base.wiring_hash() != other_image.wiring_hash()


def test_a_spec_without_api_key_is_refused_unless_offline() -> None:
    with pytest.raises(model.SpecError, match=r"spec\.apiKeySecretRef: required"):
        model.effective("shop", "main", {}, model.OperatorDefaults())
    offline = model.effective("shop", "main", {"offline": True}, model.OperatorDefaults())
    assert offline.offline
