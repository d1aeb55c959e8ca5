"""A state survives the mirror's encoding unchanged, every field of every kind of entitlement
and credit included, and a framed message is a valid FollowResponse."""

from __future__ import annotations

import datetime

from stigg_sidecar import model
from stigg_sidecar.mirror import codec
from stigg_sidecar.v1 import mirror_pb2 as mpb

UTC = datetime.UTC
METERED = model.Feature(
    "feature-seats", model.FeatureType.NUMBER, model.MeterType.INCREMENTAL, "seat", "seats"
)
STATE = model.EntitlementState(
    key=model.CustomerKey("customer-1", "resource-1"),
    entitlements={
        "feature-sso": model.Entitlement(model.Feature("feature-sso", model.FeatureType.BOOLEAN)),
        "feature-seats": model.Entitlement(
            METERED,
            usage_limit=15.0,
            has_soft_limit=True,
            current_usage=7.5,
            reset_period=model.ResetPeriod.MONTH,
            usage_period_anchor=datetime.datetime(2026, 1, 1, tzinfo=UTC),
            usage_period_start=datetime.datetime(2026, 12, 1, tzinfo=UTC),
            usage_period_end=datetime.datetime(2027, 1, 1, 0, 0, 0, 123000, tzinfo=UTC),
        ),
        "feature-regions": model.Entitlement(
            model.Feature("feature-regions", model.FeatureType.ENUM), enum_values=("eu", "us")
        ),
        "feature-projects": model.Entitlement(
            model.Feature("feature-projects", model.FeatureType.NUMBER), is_unlimited=True
        ),
        "feature-audit": model.Entitlement(
            model.Feature("feature-audit", model.FeatureType.BOOLEAN),
            is_granted=False,
            denied_reason=model.DeniedReason.NO_FEATURE_ENTITLEMENT_IN_SUBSCRIPTION,
        ),
    },
    credits={
        "credits-ai": model.CreditEntitlement(
            model.Currency(
                "credits-ai",
                "AI credits",
                "for the assistant",
                "credit",
                "credits",
                {"tier": "gold", "n": 2.0},
            ),
            usage_limit=100.0,
            current_usage=40.0,
            usage_period_end=datetime.datetime(2027, 1, 1, tzinfo=UTC),
        ),
        "credits-plain": model.CreditEntitlement(
            model.Currency("credits-plain"),
            is_granted=False,
            denied_reason=model.DeniedReason.INSUFFICIENT_CREDITS,
        ),
    },
)


def _round_trip(state: model.EntitlementState) -> model.EntitlementState:
    message = codec.state_message(state, fresh_for=12.5, current_epoch=3)
    return codec.state_of(mpb.CustomerState.FromString(message.SerializeToString()))


def test_every_field_survives() -> None:
    assert _round_trip(STATE) == STATE


def test_a_denied_customer_survives() -> None:
    denied = model.EntitlementState(
        model.CustomerKey("nobody"), {}, denied_reason=model.DeniedReason.CUSTOMER_NOT_FOUND
    )
    assert _round_trip(denied) == denied


def test_freshness_travels_with_the_state() -> None:
    message = codec.state_message(STATE, fresh_for=12.5, current_epoch=3)
    assert (message.fresh_for_seconds, message.current_epoch) == (12.5, 3)


def test_a_frame_is_a_follow_response() -> None:
    state = codec.state_message(STATE, fresh_for=1.0, current_epoch=0)
    for sequence in (1, 127, 128, 300, 2**40):
        parsed = mpb.FollowResponse.FromString(codec.frame(sequence, codec.STATE, state.SerializeToString()))
        assert parsed.sequence == sequence
        assert parsed.state == state
    absent = mpb.FollowResponse.FromString(
        codec.frame(9, codec.ABSENT, codec.key_message(STATE.key).SerializeToString())
    )
    assert absent.WhichOneof("change") == "absent"
    assert codec.key_of(absent.absent) == STATE.key
