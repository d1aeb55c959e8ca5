"""Entitlement states survive the round trip through the shared cache's encoding."""

from __future__ import annotations

import datetime

import pytest

from stigg_sidecar import model, shared_cache


def test_round_trip_keeps_every_field() -> None:
    start = datetime.datetime(2026, 11, 1, tzinfo=datetime.UTC)
    state = model.EntitlementState(
        key=model.CustomerKey("c1", "r1"),
        entitlements={
            "calls": model.Entitlement(
                model.Feature(
                    "calls", model.FeatureType.NUMBER, model.MeterType.INCREMENTAL, "call", "calls"
                ),
                usage_limit=1000.0,
                has_soft_limit=True,
                current_usage=12.5,
                reset_period=model.ResetPeriod.MONTH,
                usage_period_start=start,
                usage_period_end=start + datetime.timedelta(days=30),
            ),
            "sso": model.Entitlement(
                model.Feature("sso", model.FeatureType.BOOLEAN),
                is_granted=False,
                denied_reason=model.DeniedReason.NO_FEATURE_ENTITLEMENT_IN_SUBSCRIPTION,
            ),
            "tier": model.Entitlement(model.Feature("tier", model.FeatureType.ENUM), enum_values=("a", "b")),
        },
        credits={
            "cred": model.CreditEntitlement(
                model.Currency("cred", "Credits", "Prepaid", "credit", "credits", {"tier": "gold"}),
                usage_limit=500.0,
                current_usage=20.0,
                has_soft_limit=True,
                usage_period_end=start,
            )
        },
    )
    entry = shared_cache.SharedEntry(state, fetched_at=1234.5)
    assert shared_cache.decode(shared_cache.encode(entry)) == entry


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown shared-cache format"):
        shared_cache.decode(b'{"v": 2}')
