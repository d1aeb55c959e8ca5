"""Stigg's JSON shapes become domain objects; malformed answers raise ParseError."""

from __future__ import annotations

import datetime

import pytest

from stigg_sidecar import model
from stigg_sidecar.upstream import parse

KEY = model.CustomerKey("c1")


def test_entitlement_fragment() -> None:
    state = parse.entitlements_state(
        KEY,
        {
            "entitlements": [
                {
                    "isGranted": True,
                    "usageLimit": 1000,
                    "hasUnlimitedUsage": False,
                    "hasSoftLimit": True,
                    "currentUsage": 12.5,
                    "resetPeriod": "MONTH",
                    "usagePeriodStart": "2026-11-01T00:00:00.000Z",
                    "usagePeriodEnd": 1798761600000,
                    "feature": {"refId": "calls", "featureType": "NUMBER", "meterType": "Incremental"},
                },
                {
                    "isGranted": False,
                    "accessDeniedReason": "NoFeatureEntitlementInSubscription",
                    "feature": {"refId": "sso", "featureType": "BOOLEAN", "meterType": "None"},
                },
            ],
            "accessDeniedReason": None,
        },
    )
    calls = state.entitlements["calls"]
    assert calls.feature.kind is model.CheckKind.METERED
    assert (calls.usage_limit, calls.current_usage, calls.has_soft_limit) == (1000.0, 12.5, True)
    assert calls.reset_period is model.ResetPeriod.MONTH
    assert calls.usage_period_start == datetime.datetime(2026, 11, 1, tzinfo=datetime.UTC)
    assert calls.usage_period_end == datetime.datetime(2027, 1, 1, tzinfo=datetime.UTC)
    sso = state.entitlements["sso"]
    assert (sso.is_granted, sso.denied_reason) == (
        False,
        model.DeniedReason.NO_FEATURE_ENTITLEMENT_IN_SUBSCRIPTION,
    )


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("CustomerNotFound", model.DeniedReason.CUSTOMER_NOT_FOUND),
        ("CUSTOMER_IS_ARCHIVED", model.DeniedReason.CUSTOMER_IS_ARCHIVED),
        ("SomethingNew", model.DeniedReason.UNKNOWN),
        (None, None),
    ],
)
def test_denied_reasons(raw: str | None, reason: model.DeniedReason | None) -> None:
    assert parse.denied_reason(raw) is reason


def test_graphql_errors_and_malformed_bodies() -> None:
    with pytest.raises(parse.ParseError, match="CustomerNotFound"):
        parse.graphql_data(
            {"errors": [{"message": "no such customer", "extensions": {"code": "CustomerNotFound"}}]}
        )
    with pytest.raises(parse.ParseError):
        parse.graphql_data(["not", "an", "object"])
    with pytest.raises(parse.ParseError, match=r"feature\.refId"):
        parse.entitlements_state(KEY, {"entitlements": [{"isGranted": True}]})
    with pytest.raises(parse.ParseError, match="usageLimit must be a number"):
        parse.entitlements_state(
            KEY,
            {"entitlements": [{"usageLimit": "lots", "feature": {"refId": "f", "featureType": "NUMBER"}}]},
        )
