"""spec.sidecar.resources: every quantity parses as Kubernetes reads it and is non-negative, and a
request is no more than its limit, else a ``SpecError`` naming the field (so Ready=False)."""

from __future__ import annotations

from typing import Any

import pytest

from stigg_operator import model

OFFLINE: dict[str, Any] = {"offline": True}


def _effective(resources: dict[str, Any]) -> model.EffectiveConfig:
    spec = {**OFFLINE, "sidecar": {"resources": resources}}
    return model.effective("shop", "shop", spec, model.OperatorDefaults())


@pytest.mark.parametrize(
    ("resources", "message"),
    [
        ({"requests": {"cpu": "-100m"}}, 'spec.sidecar.resources.requests.cpu: "-100m" is negative'),
        ({"limits": {"memory": "-1Mi"}}, 'spec.sidecar.resources.limits.memory: "-1Mi" is negative'),
        ({"requests": {"memory": "1.2.3Mi"}}, 'spec.sidecar.resources.requests.memory: "1.2.3Mi" is not'),
        ({"limits": {"cpu": "1e"}}, 'spec.sidecar.resources.limits.cpu: "1e" is not'),
        ({"limits": {"cpu": "10Ki3"}}, 'spec.sidecar.resources.limits.cpu: "10Ki3" is not'),
        ({"limits": {"cpu": "1e3m"}}, 'spec.sidecar.resources.limits.cpu: "1e3m" is not'),
        ({"requests": {"cpu": "1e9999"}}, 'spec.sidecar.resources.requests.cpu: "1e9999" is not'),
        (
            {"requests": {"memory": "300Mi"}, "limits": {"memory": "256Mi"}},
            'spec.sidecar.resources.requests.memory: "300Mi" is more than the limit "256Mi"',
        ),
        (
            {"requests": {"cpu": "2"}, "limits": {"cpu": "1500m"}},
            'spec.sidecar.resources.requests.cpu: "2" is more than the limit "1500m"',
        ),
        (  # 1Gi is 1073741824, more than 1G (10**9)
            {"requests": {"memory": "1Gi"}, "limits": {"memory": "1G"}},
            'spec.sidecar.resources.requests.memory: "1Gi" is more than the limit "1G"',
        ),
    ],
)
def test_a_bad_quantity_is_a_spec_error_naming_the_field(resources: dict[str, Any], message: str) -> None:
    with pytest.raises(model.SpecError) as raised:
        _effective(resources)
    assert str(raised.value).startswith(message)


@pytest.mark.parametrize(
    "resources",
    [
        {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
        {"requests": {"cpu": "1e-3"}, "limits": {"cpu": "1m"}},  # equal
        {"requests": {"memory": "1000M"}, "limits": {"memory": "1Gi"}},
        {"requests": {"cpu": "0.5", "ephemeral-storage": "1Ki"}, "limits": {"cpu": ".5", "memory": "1E"}},
        {"requests": {"cpu": "+2"}, "limits": {"cpu": "2k"}},
        {"limits": {"memory": "128974848", "cpu": "0"}},
    ],
)
def test_valid_quantities_pass(resources: dict[str, Any]) -> None:
    assert _effective(resources).sidecar.resources == resources


def test_an_inherited_limit_is_checked_against_the_namespace_request() -> None:
    cluster = {"sidecar": {"resources": {"limits": {"memory": "128Mi"}}}}
    merged = model.merge_specs(
        cluster, {**OFFLINE, "sidecar": {"resources": {"requests": {"memory": "256Mi"}}}}
    )
    with pytest.raises(model.SpecError, match=r'requests\.memory: "256Mi" is more than the limit "128Mi"'):
        model.effective("shop", "shop", merged, model.OperatorDefaults())
