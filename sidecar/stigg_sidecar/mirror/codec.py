"""Domain objects ⇄ ``stigg_sidecar.mirror.v1`` messages, and the hub's framing.

Pure functions, no I/O, shared by the sidecar (which encodes) and the mirrored clients (which
decode). A state survives the round trip unchanged (``tests/unit/sidecar/mirror/test_codec.py``):
the mirror answers from exactly what the sidecar holds.

``frame`` builds a ``FollowResponse`` from an already serialized change, so the hub serializes
a customer's state once however many streams follow it, and adds only each stream's sequence
number (protobuf's encoding of a message is the concatenation of its fields').
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping

from google.protobuf import struct_pb2, timestamp_pb2

from stigg_sidecar import model, wire
from stigg_sidecar.v1 import mirror_pb2 as mpb
from stigg_sidecar.v1 import sidecar_pb2 as pb

# Metadata (``mirror.proto``): a Follow call's stream id, which a write names to read its own
# write; the write's answer carries that stream's sequence number after the write.
STREAM_METADATA = "stigg-mirror-stream"
SEQUENCE_METADATA = "stigg-mirror-sequence"

STATE = mpb.FollowResponse.STATE_FIELD_NUMBER
ABSENT = mpb.FollowResponse.ABSENT_FIELD_NUMBER
STATUS = mpb.FollowResponse.STATUS_FIELD_NUMBER

_FEATURE_TYPES = {
    pb.FEATURE_TYPE_BOOLEAN: model.FeatureType.BOOLEAN,
    pb.FEATURE_TYPE_NUMBER: model.FeatureType.NUMBER,
    pb.FEATURE_TYPE_ENUM: model.FeatureType.ENUM,
}
_METER_TYPES = {
    pb.METER_TYPE_NONE: model.MeterType.NONE,
    pb.METER_TYPE_FLUCTUATING: model.MeterType.FLUCTUATING,
    pb.METER_TYPE_INCREMENTAL: model.MeterType.INCREMENTAL,
}
_RESET_PERIODS = {
    model.ResetPeriod.DAY: pb.ENTITLEMENT_RESET_PERIOD_DAY,
    model.ResetPeriod.HOUR: pb.ENTITLEMENT_RESET_PERIOD_HOUR,
    model.ResetPeriod.MONTH: pb.ENTITLEMENT_RESET_PERIOD_MONTH,
    model.ResetPeriod.WEEK: pb.ENTITLEMENT_RESET_PERIOD_WEEK,
    model.ResetPeriod.YEAR: pb.ENTITLEMENT_RESET_PERIOD_YEAR,
}
_PERIODS_BACK = {number: period for period, number in _RESET_PERIODS.items()}


# -- keys -----------------------------------------------------------------------------------------


def key_message(key: model.CustomerKey) -> mpb.CustomerKey:
    return mpb.CustomerKey(customer_id=key.customer_id, resource_id=key.resource_id)


def requested_key(message: mpb.CustomerKey, field: str) -> model.CustomerKey:
    """A key a client sent, validated as ``SidecarService`` validates ids (``wire``)."""
    return wire.customer_key(message, f"{field}.")


def key_of(message: mpb.CustomerKey) -> model.CustomerKey:
    """A key the sidecar sent (trusted: it validated it)."""
    return model.CustomerKey(message.customer_id, message.resource_id or None)


# -- states ---------------------------------------------------------------------------------------


def _time(message: object, name: str) -> datetime.datetime | None:
    if not message.HasField(name):  # type: ignore[attr-defined]  # every caller passes a message
        return None
    stamp: timestamp_pb2.Timestamp = getattr(message, name)
    return stamp.ToDatetime(tzinfo=datetime.UTC)


def _reason_of(message: object) -> model.DeniedReason | None:
    if not message.HasField("denied_reason"):  # type: ignore[attr-defined]
        return None
    return model.DeniedReason(getattr(message, "denied_reason"))  # noqa: B009


def entitlement_message(value: model.Entitlement) -> mpb.Entitlement:
    return mpb.Entitlement(
        feature=wire.feature(value.feature),
        is_granted=value.is_granted,
        denied_reason=wire.reason(value.denied_reason),
        usage_limit=value.usage_limit,
        is_unlimited=value.is_unlimited,
        has_soft_limit=value.has_soft_limit,
        current_usage=value.current_usage,
        enum_values=list(value.enum_values),
        reset_period=None if value.reset_period is None else _RESET_PERIODS[value.reset_period],
        usage_period_anchor=wire.stamp(value.usage_period_anchor),
        usage_period_start=wire.stamp(value.usage_period_start),
        usage_period_end=wire.stamp(value.usage_period_end),
    )


def entitlement_of(message: mpb.Entitlement) -> model.Entitlement:
    feature = message.feature
    return model.Entitlement(
        feature=model.Feature(
            id=feature.id,
            feature_type=_FEATURE_TYPES[feature.feature_type],
            meter_type=_METER_TYPES.get(feature.meter_type, model.MeterType.NONE),
            units=feature.units if feature.HasField("units") else None,
            units_plural=feature.units_plural if feature.HasField("units_plural") else None,
        ),
        is_granted=message.is_granted,
        denied_reason=_reason_of(message),
        usage_limit=message.usage_limit if message.HasField("usage_limit") else None,
        is_unlimited=message.is_unlimited,
        has_soft_limit=message.has_soft_limit,
        current_usage=message.current_usage,
        enum_values=tuple(message.enum_values),
        reset_period=_PERIODS_BACK[message.reset_period] if message.HasField("reset_period") else None,
        usage_period_anchor=_time(message, "usage_period_anchor"),
        usage_period_start=_time(message, "usage_period_start"),
        usage_period_end=_time(message, "usage_period_end"),
    )


def credit_message(value: model.CreditEntitlement) -> mpb.CreditEntitlement:
    return mpb.CreditEntitlement(
        currency=wire.currency(value.currency),
        is_granted=value.is_granted,
        denied_reason=wire.reason(value.denied_reason),
        usage_limit=value.usage_limit,
        current_usage=value.current_usage,
        has_soft_limit=value.has_soft_limit,
        usage_period_end=wire.stamp(value.usage_period_end),
    )


def _metadata(currency: pb.EntitlementCurrency) -> Mapping[str, object] | None:
    if not currency.HasField("additional_meta_data"):
        return None
    return {key: _json(value) for key, value in currency.additional_meta_data.items()}


def _json(value: object) -> object:
    """A Struct value as plain JSON data (Struct and ListValue become dict and list)."""
    if isinstance(value, struct_pb2.Struct):
        return {key: _json(item) for key, item in value.items()}
    if isinstance(value, struct_pb2.ListValue):
        return [_json(item) for item in value]
    return value


def credit_of(message: mpb.CreditEntitlement) -> model.CreditEntitlement:
    currency = message.currency
    return model.CreditEntitlement(
        currency=model.Currency(
            id=currency.currency_id,
            display_name=currency.display_name,
            description=currency.description if currency.HasField("description") else None,
            unit_singular=currency.unit_singular if currency.HasField("unit_singular") else None,
            unit_plural=currency.unit_plural if currency.HasField("unit_plural") else None,
            metadata=_metadata(currency),
        ),
        is_granted=message.is_granted,
        denied_reason=_reason_of(message),
        usage_limit=message.usage_limit,
        current_usage=message.current_usage,
        has_soft_limit=message.has_soft_limit,
        usage_period_end=_time(message, "usage_period_end"),
    )


def state_message(
    state: model.EntitlementState, *, fresh_for: float, current_epoch: int
) -> mpb.CustomerState:
    return mpb.CustomerState(
        key=key_message(state.key),
        denied_reason=wire.reason(state.denied_reason),
        entitlements=[entitlement_message(e) for e in state.entitlements.values()],
        credits=[credit_message(c) for c in state.credits.values()],
        fresh_for_seconds=fresh_for,
        current_epoch=current_epoch,
    )


def state_of(message: mpb.CustomerState) -> model.EntitlementState:
    entitlements = [entitlement_of(e) for e in message.entitlements]
    credits = [credit_of(c) for c in message.credits]
    return model.EntitlementState(
        key=key_of(message.key),
        entitlements={e.feature.id: e for e in entitlements},
        denied_reason=_reason_of(message),
        credits={c.currency.id: c for c in credits},
    )


# -- framing --------------------------------------------------------------------------------------


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def frame(sequence: int, field: int, payload: bytes) -> bytes:
    """A serialized ``FollowResponse``: ``sequence`` and the serialized ``change`` member ``field``."""
    return b"\x08" + _varint(sequence) + _varint(field << 3 | 2) + _varint(len(payload)) + payload
