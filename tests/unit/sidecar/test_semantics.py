"""The pure entitlement rules (stigg_sidecar.semantics)."""

from __future__ import annotations

import pytest

from stigg_sidecar import model, semantics

R = model.DeniedReason
K = model.CheckKind
BOOL = model.Feature("sso", model.FeatureType.BOOLEAN)
SEATS = model.Feature("seats", model.FeatureType.NUMBER)
CALLS = model.Feature("api-calls", model.FeatureType.NUMBER, model.MeterType.INCREMENTAL)
TIER = model.Feature("tier", model.FeatureType.ENUM)


def _state(
    *entitlements: model.Entitlement, denied: model.DeniedReason | None = None
) -> model.EntitlementState:
    return model.EntitlementState(
        model.CustomerKey("c1"), {e.feature.id: e for e in entitlements}, denied_reason=denied
    )


def test_boolean_granted_and_not_in_plan() -> None:
    state = _state(
        model.Entitlement(BOOL),
        model.Entitlement(SEATS, is_granted=False, denied_reason=R.NO_FEATURE_ENTITLEMENT_IN_SUBSCRIPTION),
    )
    granted = semantics.evaluate(state, "sso", K.BOOLEAN)
    assert (granted.has_access, granted.denied_reason, granted.is_fallback) == (True, None, False)
    missing = semantics.evaluate(state, "seats", K.NUMERIC)
    assert (missing.has_access, missing.denied_reason) == (False, R.NO_FEATURE_ENTITLEMENT_IN_SUBSCRIPTION)


def test_unknown_customer_and_unknown_feature() -> None:
    gone = semantics.evaluate(_state(denied=R.CUSTOMER_NOT_FOUND), "sso")
    assert (gone.has_access, gone.denied_reason, gone.entitlement) == (False, R.CUSTOMER_NOT_FOUND, None)
    unknown = semantics.evaluate(_state(model.Entitlement(BOOL)), "no-such-feature")
    assert (unknown.has_access, unknown.denied_reason) == (False, R.FEATURE_NOT_FOUND)


@pytest.mark.parametrize(
    ("kind", "feature", "ok"),
    [
        (K.BOOLEAN, BOOL, True),
        (K.NUMERIC, BOOL, False),
        (K.METERED, SEATS, False),
        (K.NUMERIC, SEATS, True),
        (K.METERED, CALLS, True),
        (K.NUMERIC, CALLS, False),
        (K.ENUM, TIER, True),
        (K.BOOLEAN, TIER, False),
        (K.ANY, CALLS, True),
    ],
)
def test_typed_getter_on_other_type_is_a_mismatch(
    kind: model.CheckKind, feature: model.Feature, ok: bool
) -> None:
    decision = semantics.evaluate(_state(model.Entitlement(feature, usage_limit=10)), feature.id, kind)
    assert decision.has_access is ok
    assert decision.denied_reason is (None if ok else R.FEATURE_TYPE_MISMATCH)


@pytest.mark.parametrize(
    ("current", "requested", "unlimited", "soft", "has_access"),
    [
        (90, None, False, False, True),  # no requested usage: no limit check
        (90, 10, False, False, True),  # exactly at the limit
        (90, 11, False, False, False),
        (100, 0, False, False, True),
        (150, 1, False, False, False),
        (150, 1000, True, False, True),  # unlimited
        (150, 1000, False, True, True),  # soft limit
    ],
)
def test_metered_requested_usage(
    current: float, requested: float | None, unlimited: bool, soft: bool, has_access: bool
) -> None:
    entitlement = model.Entitlement(
        CALLS, usage_limit=100, current_usage=current, is_unlimited=unlimited, has_soft_limit=soft
    )
    decision = semantics.evaluate(_state(entitlement), "api-calls", K.METERED, requested_usage=requested)
    assert decision.has_access is has_access
    assert decision.denied_reason is (None if has_access else R.REQUESTED_USAGE_EXCEEDING_LIMIT)
    assert decision.requested_usage == (requested or 0)
    assert decision.entitlement is entitlement


def test_enum_requested_values_must_be_a_subset() -> None:
    state = _state(model.Entitlement(TIER, enum_values=("basic", "pro")))
    assert semantics.evaluate(state, "tier", K.ENUM, requested_values=["pro"]).has_access
    assert semantics.evaluate(state, "tier", K.ENUM, requested_values=[]).has_access
    mismatch = semantics.evaluate(state, "tier", K.ENUM, requested_values=["pro", "enterprise"])
    assert (mismatch.has_access, mismatch.denied_reason) == (False, R.REQUESTED_VALUES_MISMATCH)
    assert mismatch.requested_values == ("pro", "enterprise")


def test_fallback_marking_keeps_the_decision() -> None:
    decision = semantics.evaluate(_state(model.Entitlement(BOOL)), "sso")
    marked = semantics.as_fallback(decision)
    assert marked.is_fallback
    assert not decision.is_fallback
    assert (marked.has_access, marked.entitlement) == (decision.has_access, decision.entitlement)
