"""Static defaults in Stigg's ENTITLEMENTS_FALLBACK format, and the decisions they give."""

from __future__ import annotations

import pytest

from stigg_sidecar import defaults, model

K = model.CheckKind


def test_parse_stigg_example() -> None:
    table = defaults.parse_env(
        '{"feature-01":{"hasAccess":true,"usageLimit":1000},"feature-02":{"hasAccess":true,"isUnlimited":true}}'
    )
    assert table["feature-01"] == defaults.FeatureDefault(has_access=True, usage_limit=1000.0)
    assert table["feature-02"] == defaults.FeatureDefault(has_access=True, is_unlimited=True)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ('{"f": true}', "f: must be an object"),
        ('{"f": {"hasAccess": "yes"}}', "f.hasAccess: must be true or false"),
        ('{"f": {"usageLimit": 5, "hasSoftLimit": 1}}', "f.hasSoftLimit: must be true or false"),
        ('{"f": {"usageLimit": "ten"}}', "f.usageLimit: must be a finite number"),
        ('{"f": {"value": 1.5}}', "f.value: must be an integer"),
        ('{"f": {"enumValues": "gold"}}', "f.enumValues: must be a list of strings"),
        ('{"f": {"hasAcess": true}}', "f: unknown field(s) hasAcess"),
        ("[1, 2]", "document: must be an object keyed by feature id"),
    ],
)
def test_errors_name_the_path(document: str, message: str) -> None:
    with pytest.raises(defaults.DefaultsError) as raised:
        defaults.parse_env(document)
    assert str(raised.value).startswith(message)


def test_decisions_are_fallbacks_shaped_by_the_getter() -> None:
    metered = defaults.FeatureDefault(has_access=True, usage_limit=100)
    within = metered.decide("calls", K.METERED, requested_usage=100)
    assert (within.has_access, within.is_fallback) == (True, True)
    assert within.entitlement is not None
    assert within.entitlement.usage_limit == 100
    over = metered.decide("calls", K.METERED, requested_usage=101)
    assert (over.has_access, over.denied_reason) == (
        False,
        model.DeniedReason.REQUESTED_USAGE_EXCEEDING_LIMIT,
    )

    numeric = defaults.FeatureDefault(has_access=True, value=5).decide("seats", K.ANY)
    assert numeric.entitlement is not None
    assert (numeric.entitlement.feature.kind, numeric.entitlement.usage_limit) == (K.NUMERIC, 5.0)

    enum = defaults.FeatureDefault(has_access=True, enum_values=("a", "b")).decide(
        "tier", K.ENUM, None, ["c"]
    )
    assert (enum.has_access, enum.denied_reason) == (False, model.DeniedReason.REQUESTED_VALUES_MISMATCH)

    denied = defaults.FeatureDefault(has_access=False).decide("sso", K.BOOLEAN)
    assert (denied.has_access, denied.is_fallback) == (False, True)


def test_a_soft_limit_default_stays_granted_past_its_limit() -> None:
    """``hasSoftLimit`` (our key beside Stigg's): a metered default whose limit is soft."""
    table = defaults.parse_env('{"calls": {"hasAccess": true, "usageLimit": 100, "hasSoftLimit": true}}')
    soft = table["calls"]
    assert soft == defaults.FeatureDefault(has_access=True, usage_limit=100.0, has_soft_limit=True)
    over = soft.decide("calls", K.ANY, requested_usage=500)
    assert (over.has_access, over.denied_reason, over.is_fallback) == (True, None, True)
    assert over.entitlement is not None
    assert (over.entitlement.feature.kind, over.entitlement.has_soft_limit) == (K.METERED, True)
    # Only a metered entitlement has a soft limit, whatever the getter made of the default.
    as_numeric = soft.decide("calls", K.NUMERIC).entitlement
    assert as_numeric is not None
    assert as_numeric.has_soft_limit is False
    hard = defaults.parse_env('{"calls": {"hasAccess": true, "usageLimit": 100}}')["calls"]
    assert hard.decide("calls", K.METERED, requested_usage=500).has_access is False
