"""``stigg.sidecar.v1`` messages ⇄ domain objects, with request validation.

Pure functions, no I/O. Requests are validated here and a bad one raises ``InvalidRequest``
naming the field as the client wrote it (``options.requested_usage``, ``usages[2].customer_id``);
``servicer`` turns that into INVALID_ARGUMENT. An empty optional ``resource_id`` counts as
absent, since some clients always set it.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypedDict

from google.protobuf import message, struct_pb2, timestamp_pb2

from stigg_sidecar import defaults, model, semantics
from stigg_sidecar.v1 import sidecar_pb2 as pb

# Input limits (the README's "Limits"): beyond them a request is INVALID_ARGUMENT naming the
# field, before anything is acknowledged, so nothing accepted can be refused upstream for its
# shape and no caller can make the sidecar hold, log or forward unbounded input.
MAX_ID_LENGTH = 256  # customer, resource and feature ids, event names, idempotency keys, values
MAX_DIMENSIONS = 50  # dimensions of one usage report or event
MAX_DIMENSION_KEY_LENGTH = 128
MAX_DIMENSION_STRING_LENGTH = 1024
MAX_BULK_ITEMS = 1000  # usages of a ReportUsageBulk, events of a ReportEvents
MAX_REQUESTED_VALUES = 100
MAX_NUMBER = 1e15  # a usage value, requested usage or numeric fallback: finite, at most this in size


class InvalidRequest(ValueError):
    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field


# -- requests -----------------------------------------------------------------------------------


def _bounded(value: str, field: str, limit: int = MAX_ID_LENGTH) -> str:
    if len(value) > limit:
        raise InvalidRequest(field, f"must be at most {limit} characters, got {len(value)}")
    return value


def _required(value: str, field: str) -> str:
    if not value.strip():
        raise InvalidRequest(field, "must not be empty")
    return _bounded(value, field)


def identifier(value: str, field: str) -> str:
    """A required id (feature, currency): not blank, at most ``MAX_ID_LENGTH`` characters."""
    return _required(value, field)


def _optional_id(message: object, name: str, prefix: str = "") -> str | None:
    value: str = getattr(message, name)
    return _bounded(value, f"{prefix}{name}") if value.strip() else None


def _number(value: float, field: str, *, low: float = -MAX_NUMBER) -> float:
    if not math.isfinite(value):
        raise InvalidRequest(field, f"must be a finite number, got {value}")
    if not low <= value <= MAX_NUMBER:
        raise InvalidRequest(field, f"must be between {low:g} and {MAX_NUMBER:g}, got {value:g}")
    return value


def bulk(items: Sequence[Any], field: str) -> Sequence[Any]:
    """The items of a bulk request: at least one, at most ``MAX_BULK_ITEMS``."""
    if not items:
        raise InvalidRequest(field, "must not be empty")
    if len(items) > MAX_BULK_ITEMS:
        raise InvalidRequest(field, f"must hold at most {MAX_BULK_ITEMS} items, got {len(items)}")
    return items


def customer_key(request: object, prefix: str = "") -> model.CustomerKey:
    customer_id: str = getattr(request, "customer_id")  # noqa: B009 -- every request message has it
    return model.CustomerKey(
        _required(customer_id, f"{prefix}customer_id"), _optional_id(request, "resource_id", prefix)
    )


def requested_usage(value: float, field: str) -> float:
    if not math.isfinite(value) or value < 0:
        raise InvalidRequest(field, f"must be a non-negative number, got {value}")
    return _number(value, field, low=0)


def requested_values(values: Iterable[str], field: str) -> tuple[str, ...]:
    out = tuple(values)
    if len(out) > MAX_REQUESTED_VALUES:
        raise InvalidRequest(field, f"must hold at most {MAX_REQUESTED_VALUES} values, got {len(out)}")
    for index, value in enumerate(out):
        if not value:
            raise InvalidRequest(f"{field}[{index}]", "must not be empty")
        _bounded(value, f"{field}[{index}]")
    return out


def fallback(raw: message.Message, field: str) -> defaults.FeatureDefault:
    """Any of the per-request fallback messages (they share field names) → a ``FeatureDefault``."""
    fields = raw.DESCRIPTOR.fields_by_name

    def get(name: str) -> Any:
        if name not in fields or (fields[name].has_presence and not raw.HasField(name)):
            return None
        return getattr(raw, name)

    usage_limit = get("usage_limit")
    if usage_limit is not None:
        requested_usage(usage_limit, f"{field}.usage_limit")
    value = get("value")
    if value is not None and value < 0:
        raise InvalidRequest(f"{field}.value", f"must not be negative, got {value}")
    if value is not None:
        _number(value, f"{field}.value", low=0)
    return defaults.FeatureDefault(
        has_access=bool(get("has_access")),
        usage_limit=usage_limit,
        is_unlimited=bool(get("is_unlimited")),
        value=value,
        enum_values=requested_values(get("enum_values") or (), f"{field}.enum_values"),
    )


def _dimensions(raw: Mapping[str, pb.EventDimensionValue], field: str) -> dict[str, model.DimensionValue]:
    if len(raw) > MAX_DIMENSIONS:
        raise InvalidRequest(field, f"must hold at most {MAX_DIMENSIONS} dimensions, got {len(raw)}")
    out: dict[str, model.DimensionValue] = {}
    for name, value in raw.items():
        if not name or len(name) > MAX_DIMENSION_KEY_LENGTH:
            shown = name[:MAX_DIMENSION_KEY_LENGTH] + "..." if name else "''"
            raise InvalidRequest(
                f"{field}[{shown}]", f"a dimension's name must be 1 to {MAX_DIMENSION_KEY_LENGTH} characters"
            )
        where = f"{field}[{name!r}]"
        which = value.WhichOneof("value")
        if which is None:
            raise InvalidRequest(where, "must hold a string, number or boolean value")
        item = getattr(value, which)
        if isinstance(item, str):
            _bounded(item, where, MAX_DIMENSION_STRING_LENGTH)
        elif isinstance(item, float):
            _number(item, where)
        out[name] = item
    return out


def _timestamp(message: object, name: str) -> datetime.datetime | None:
    if not message.HasField(name):  # type: ignore[attr-defined]
        return None
    stamp: timestamp_pb2.Timestamp = getattr(message, name)
    return stamp.ToDatetime(tzinfo=datetime.UTC)


def usage_report(request: pb.ReportUsageRequest, prefix: str = "") -> model.UsageReport:
    key = customer_key(request, prefix)
    feature_id = _required(request.feature_id, f"{prefix}feature_id")
    _number(request.value, f"{prefix}value")
    behavior = (
        request.update_behavior if request.HasField("update_behavior") else pb.USAGE_UPDATE_BEHAVIOR_DELTA
    )
    if behavior not in {pb.USAGE_UPDATE_BEHAVIOR_DELTA, pb.USAGE_UPDATE_BEHAVIOR_SET}:
        raise InvalidRequest(f"{prefix}update_behavior", "must be DELTA or SET")
    set_total = behavior == pb.USAGE_UPDATE_BEHAVIOR_SET
    if set_total and request.value < 0:
        raise InvalidRequest(f"{prefix}value", f"must not be negative for SET, got {request.value}")
    return model.UsageReport(
        customer_id=key.customer_id,
        feature_id=feature_id,
        value=request.value,
        resource_id=key.resource_id,
        set_total=set_total,
        dimensions=_dimensions(request.dimensions, f"{prefix}dimensions"),
        timestamp=_timestamp(request, "timestamp"),
    )


def usage_event(event: pb.Event, prefix: str) -> model.UsageEvent:
    key = customer_key(event, prefix)
    return model.UsageEvent(
        event_name=_required(event.event_name, f"{prefix}event_name"),
        customer_id=key.customer_id,
        idempotency_key=_required(event.idempotency_key, f"{prefix}idempotency_key"),
        resource_id=key.resource_id,
        dimensions=_dimensions(event.dimensions, f"{prefix}dimensions"),
        timestamp=_timestamp(event, "timestamp"),
    )


# -- responses ----------------------------------------------------------------------------------

_FEATURE_TYPES = {
    model.FeatureType.BOOLEAN: pb.FEATURE_TYPE_BOOLEAN,
    model.FeatureType.NUMBER: pb.FEATURE_TYPE_NUMBER,
    model.FeatureType.ENUM: pb.FEATURE_TYPE_ENUM,
}
_METER_TYPES = {
    model.MeterType.NONE: pb.METER_TYPE_NONE,
    model.MeterType.FLUCTUATING: pb.METER_TYPE_FLUCTUATING,
    model.MeterType.INCREMENTAL: pb.METER_TYPE_INCREMENTAL,
}
_RESET_PERIODS = {
    model.ResetPeriod.DAY: pb.ENTITLEMENT_RESET_PERIOD_DAY,
    model.ResetPeriod.HOUR: pb.ENTITLEMENT_RESET_PERIOD_HOUR,
    model.ResetPeriod.MONTH: pb.ENTITLEMENT_RESET_PERIOD_MONTH,
    model.ResetPeriod.WEEK: pb.ENTITLEMENT_RESET_PERIOD_WEEK,
    model.ResetPeriod.YEAR: pb.ENTITLEMENT_RESET_PERIOD_YEAR,
}
_KIND_FEATURE = {
    model.CheckKind.ANY: model.FeatureType.BOOLEAN,
    model.CheckKind.BOOLEAN: model.FeatureType.BOOLEAN,
    model.CheckKind.NUMERIC: model.FeatureType.NUMBER,
    model.CheckKind.METERED: model.FeatureType.NUMBER,
    model.CheckKind.ENUM: model.FeatureType.ENUM,
}
_INT32_MAX = 2**31 - 1


def stamp(value: datetime.datetime | None) -> timestamp_pb2.Timestamp | None:
    """A moment as a protobuf Timestamp (None stays None)."""
    if value is None:
        return None
    message = timestamp_pb2.Timestamp()
    message.FromDatetime(value)
    return message


def feature(value: model.Feature) -> pb.EntitlementFeature:
    return pb.EntitlementFeature(
        id=value.id,
        feature_type=_FEATURE_TYPES[value.feature_type],
        units=value.units,
        units_plural=value.units_plural,
        meter_type=_METER_TYPES[value.meter_type],
        is_metered=value.is_metered,
    )


def placeholder_feature(feature_id: str, kind: model.CheckKind) -> pb.EntitlementFeature:
    """The feature of an answer about something unknown: its id and the type the getter expects."""
    meter = model.MeterType.INCREMENTAL if kind is model.CheckKind.METERED else model.MeterType.NONE
    return feature(model.Feature(feature_id, _KIND_FEATURE[kind], meter))


def boolean(value: model.Entitlement) -> pb.BooleanEntitlement:
    return pb.BooleanEntitlement(feature=feature(value.feature))


def numeric(value: model.Entitlement) -> pb.NumericEntitlement:
    limit = value.usage_limit
    number = None if limit is None else max(0, min(_INT32_MAX, int(limit)))
    return pb.NumericEntitlement(
        feature=feature(value.feature), value=number, is_unlimited=value.is_unlimited
    )


def metered(value: model.Entitlement) -> pb.MeteredEntitlement:
    return pb.MeteredEntitlement(
        feature=feature(value.feature),
        usage_limit=value.usage_limit,
        is_unlimited=value.is_unlimited,
        current_usage=value.current_usage,
        reset_period=_RESET_PERIODS.get(value.reset_period) if value.reset_period else None,
        usage_period_anchor=stamp(value.usage_period_anchor),
        usage_period_start=stamp(value.usage_period_start),
        usage_period_end=stamp(value.usage_period_end),
        has_soft_limit=value.has_soft_limit,
    )


def enum(value: model.Entitlement) -> pb.EnumEntitlement:
    return pb.EnumEntitlement(feature=feature(value.feature), enum_values=list(value.enum_values))


def currency(value: model.Currency) -> pb.EntitlementCurrency:
    metadata = None
    if value.metadata is not None:
        metadata = struct_pb2.Struct()
        metadata.update(dict(value.metadata))  # type: ignore[arg-type]  # JSON values
    return pb.EntitlementCurrency(
        currency_id=value.id,
        display_name=value.display_name,
        description=value.description,
        unit_singular=value.unit_singular,
        unit_plural=value.unit_plural,
        additional_meta_data=metadata,
    )


def credit(value: model.CreditEntitlement) -> pb.CreditEntitlement:
    return pb.CreditEntitlement(
        currency=currency(value.currency),
        usage_limit=value.usage_limit,
        current_usage=value.current_usage,
        remaining=value.remaining,
        usage_period_end=stamp(value.usage_period_end),
        has_soft_limit=value.has_soft_limit,
    )


class OneOf(TypedDict, total=False):
    """The entitlement oneof of generic answers: exactly one of these keys is set."""

    boolean: pb.BooleanEntitlement
    numeric: pb.NumericEntitlement
    metered: pb.MeteredEntitlement
    enum: pb.EnumEntitlement


class Common(TypedDict):
    """The fields every check answer starts with."""

    has_access: bool
    is_fallback: bool
    access_denied_reason: pb.AccessDeniedReason.ValueType | None


def reason(value: model.DeniedReason | None) -> pb.AccessDeniedReason.ValueType | None:
    return None if value is None else pb.AccessDeniedReason.ValueType(int(value))


def any_entitlement(value: model.Entitlement) -> OneOf:
    """The oneof member (``boolean``/``numeric``/``metered``/``enum``) for a generic answer."""
    kind = value.feature.kind
    if kind is model.CheckKind.BOOLEAN:
        return {"boolean": boolean(value)}
    if kind is model.CheckKind.NUMERIC:
        return {"numeric": numeric(value)}
    if kind is model.CheckKind.METERED:
        return {"metered": metered(value)}
    return {"enum": enum(value)}


def common(decision: semantics.Decision) -> Common:
    return Common(
        has_access=decision.has_access,
        is_fallback=decision.is_fallback,
        access_denied_reason=reason(decision.denied_reason),
    )


def entitlement_v2(decision: semantics.Decision) -> pb.EntitlementV2:
    if decision.credit is not None:
        return pb.EntitlementV2(**common(decision), credit=credit(decision.credit))
    oneof = OneOf() if decision.entitlement is None else any_entitlement(decision.entitlement)
    return pb.EntitlementV2(**common(decision), **oneof)


def granted_entitlements(state: model.EntitlementState) -> list[pb.Entitlement]:
    return [pb.Entitlement(**any_entitlement(e)) for e in state.entitlements.values() if e.is_granted]


# -- answers: what the servicer sends and a mirrored client builds in-process ------------------


def boolean_response(decision: semantics.Decision, feature_id: str) -> pb.GetBooleanEntitlementResponse:
    entitlement = (
        boolean(decision.entitlement)
        if decision.entitlement
        else pb.BooleanEntitlement(feature=placeholder_feature(feature_id, model.CheckKind.BOOLEAN))
    )
    return pb.GetBooleanEntitlementResponse(**common(decision), entitlement=entitlement)


def numeric_response(decision: semantics.Decision, feature_id: str) -> pb.GetNumericEntitlementResponse:
    entitlement = (
        numeric(decision.entitlement)
        if decision.entitlement
        else pb.NumericEntitlement(feature=placeholder_feature(feature_id, model.CheckKind.NUMERIC))
    )
    return pb.GetNumericEntitlementResponse(**common(decision), entitlement=entitlement)


def metered_response(decision: semantics.Decision, feature_id: str) -> pb.GetMeteredEntitlementResponse:
    entitlement = (
        metered(decision.entitlement)
        if decision.entitlement
        else pb.MeteredEntitlement(feature=placeholder_feature(feature_id, model.CheckKind.METERED))
    )
    return pb.GetMeteredEntitlementResponse(
        **common(decision), requested_usage=decision.requested_usage, entitlement=entitlement
    )


def enum_response(decision: semantics.Decision, feature_id: str) -> pb.GetEnumEntitlementResponse:
    entitlement = (
        enum(decision.entitlement)
        if decision.entitlement
        else pb.EnumEntitlement(feature=placeholder_feature(feature_id, model.CheckKind.ENUM))
    )
    return pb.GetEnumEntitlementResponse(
        **common(decision), requested_values=list(decision.requested_values), entitlement=entitlement
    )


def entitlement_response(decision: semantics.Decision, feature_id: str = "") -> pb.GetEntitlementResponse:
    oneof = any_entitlement(decision.entitlement) if decision.entitlement else OneOf()
    return pb.GetEntitlementResponse(**common(decision), **oneof)


def entitlement_v2_response(
    decision: semantics.Decision, feature_id: str = ""
) -> pb.GetEntitlementV2Response:
    return pb.GetEntitlementV2Response(entitlement=entitlement_v2(decision))


def entitlements_response(state: model.EntitlementState) -> pb.GetEntitlementsResponse:
    """GetEntitlements for a known state: the granted entitlements, or the customer's denial."""
    return pb.GetEntitlementsResponse(
        entitlements=granted_entitlements(state), access_denied_reason=reason(state.denied_reason)
    )


def entitlements_state_v2_response(state: model.EntitlementState) -> pb.GetEntitlementsStateV2Response:
    """GetEntitlementsStateV2 for a known state: every feature's and currency's decision."""
    decisions = [semantics.evaluate_entitlement(e) for e in state.entitlements.values()]
    decisions += [semantics.evaluate_credit_entitlement(c) for c in state.credits.values()]
    return pb.GetEntitlementsStateV2Response(
        entitlements=[entitlement_v2(d) for d in decisions], access_denied_reason=reason(state.denied_reason)
    )


def usage_result(result: model.UsageResult) -> pb.ReportUsageResponse:
    return pb.ReportUsageResponse(
        measurement_id=result.measurement_id,
        customer_id=result.customer_id,
        resource_id=result.resource_id,
        feature_id=result.feature_id,
        current_usage=result.current_usage,
        usage_period_start=stamp(result.usage_period_start),
        usage_period_end=stamp(result.usage_period_end),
    )
