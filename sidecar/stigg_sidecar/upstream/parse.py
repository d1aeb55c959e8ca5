"""Stigg's JSON → domain objects (pure).

The Edge API and GraphQL's ``entitlementsState`` return the same shape: ``{"entitlementsV2":
[FeatureEntitlement | CreditEntitlement...], "entitlements": [Entitlement...],
"accessDeniedReason": ...}``. The current list, ``entitlementsV2``, is read when present (told
apart by ``__typename``); the legacy ``entitlements`` (features only) otherwise. A feature's
entitlement is Stigg's ``EntitlementFragment`` / ``FeatureEntitlementFragment`` (isGranted,
usageLimit, hasUnlimitedUsage, hasSoftLimit, currentUsage, enumValues, resetPeriod, usage period
dates, ``feature{featureType, meterType, refId, featureUnits, featureUnitsPlural}``); a credit
entitlement is ``CreditEntitlementFragment`` (``currency{currencyId displayName ...}``,
usageLimit, currentUsage, hasSoftLimit, usagePeriodEnd). Enum values are GraphQL names
(``CustomerNotFound``, ``Incremental``); unknown ones degrade to a safe value, and an item of an
unknown ``__typename`` is skipped (reported to ``skip``), rather than failing the whole answer.
Unknown fields are ignored. Malformed structure raises ``ParseError``.

The real-time stream's ``next`` payloads parse to events, in the current protocol and the
legacy one:

* ``EntitlementsUpdated``: ``entitlementsUpdatedV2 {customerId resourceId accessDeniedReason
  entitlements}`` (the union list) or legacy ``entitlementsUpdated {customerId resourceId
  entitlements}``: the customer's whole state, replacing what is held;
* ``UsageUpdated``: ``usageUpdatedV2 {customerId resourceId entitlementReference {type id}
  usage {currentUsage ...}}`` with a FEATURE reference, or legacy ``usageUpdated {usage
  {customerId resourceId featureId currentUsage ...} entitlement}``: one feature's usage;
* ``CreditUsageUpdated``: ``usageUpdatedV2`` with a CREDIT reference: one currency's
  consumed credits;
* ``PackagePublished``: ``packagePublished {packageRefId migrationType ...}``: a plan or add-on
  was published, affecting every customer on it when ``migrationType`` is ALL_CUSTOMERS.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
from collections.abc import Callable, Mapping
from typing import Any

from stigg_sidecar import model


class ParseError(ValueError):
    """The upstream's answer does not have the documented shape."""


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def denied_reason(raw: object) -> model.DeniedReason | None:
    """``CustomerNotFound`` (or ``CUSTOMER_NOT_FOUND``) → ``DeniedReason.CUSTOMER_NOT_FOUND``."""
    if raw is None or raw == "":
        return None
    name = _CAMEL.sub("_", str(raw)).upper()
    return model.DeniedReason.__members__.get(name, model.DeniedReason.UNKNOWN)


def _meter_type(raw: object) -> model.MeterType:
    for member in model.MeterType:
        if str(raw).lower() == member.value.lower():
            return member
    return model.MeterType.NONE


def _feature_type(raw: object) -> model.FeatureType:
    try:
        return model.FeatureType(str(raw).upper())
    except ValueError:
        raise ParseError(f"unknown featureType {raw!r}") from None


def _reset_period(raw: object) -> model.ResetPeriod | None:
    if raw is None:
        return None
    return model.ResetPeriod.__members__.get(str(raw).upper())


def timestamp(raw: object) -> datetime.datetime | None:
    """ISO-8601 text or epoch milliseconds → an aware UTC datetime."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return datetime.datetime.fromtimestamp(raw / 1000, tz=datetime.UTC)
    try:
        parsed = datetime.datetime.fromisoformat(str(raw))
    except ValueError:
        raise ParseError(f"not a timestamp: {raw!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)


def _optional_float(raw: object, field: str) -> float | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ParseError(f"{field} must be a number, got {raw!r}")
    return float(raw)


def entitlement(raw: Mapping[str, Any]) -> model.Entitlement:
    feature_raw = raw.get("feature")
    if not isinstance(feature_raw, Mapping) or not feature_raw.get("refId"):
        raise ParseError(f"entitlement without feature.refId: {raw!r:.200}")
    feature = model.Feature(
        id=str(feature_raw["refId"]),
        feature_type=_feature_type(feature_raw.get("featureType")),
        meter_type=_meter_type(feature_raw.get("meterType")),
        units=feature_raw.get("featureUnits"),
        units_plural=feature_raw.get("featureUnitsPlural"),
    )
    enum_values = raw.get("enumValues") or ()
    return model.Entitlement(
        feature=feature,
        is_granted=bool(raw.get("isGranted", True)),
        denied_reason=denied_reason(raw.get("accessDeniedReason")),
        usage_limit=_optional_float(raw.get("usageLimit"), "usageLimit"),
        is_unlimited=bool(raw.get("hasUnlimitedUsage", False)),
        has_soft_limit=bool(raw.get("hasSoftLimit", False)),
        current_usage=_optional_float(raw.get("currentUsage"), "currentUsage") or 0.0,
        enum_values=tuple(str(v) for v in enum_values),
        reset_period=_reset_period(raw.get("resetPeriod")),
        usage_period_anchor=timestamp(raw.get("usagePeriodAnchor")),
        usage_period_start=timestamp(raw.get("usagePeriodStart")),
        usage_period_end=timestamp(raw.get("usagePeriodEnd")),
    )


Skip = Callable[[str], None]  # told the ``__typename`` of each item skipped


def _ignore(_: str) -> None:
    return None


def _json_object(raw: object) -> Mapping[str, object] | None:
    return dict(raw) if isinstance(raw, Mapping) else None


def _optional_str(raw: object) -> str | None:
    return raw if isinstance(raw, str) else None


def credit_entitlement(raw: Mapping[str, Any]) -> model.CreditEntitlement:
    """A ``CreditEntitlement`` item → the customer's balance of that currency."""
    currency = raw.get("currency")
    if not isinstance(currency, Mapping) or not currency.get("currencyId"):
        raise ParseError(f"credit entitlement without currency.currencyId: {raw!r:.200}")
    return model.CreditEntitlement(
        currency=model.Currency(
            id=str(currency["currencyId"]),
            display_name=str(currency.get("displayName") or ""),
            description=_optional_str(currency.get("description")),
            unit_singular=_optional_str(currency.get("unitSingular")),
            unit_plural=_optional_str(currency.get("unitPlural")),
            metadata=_json_object(currency.get("additionalMetaData")),
        ),
        is_granted=bool(raw.get("isGranted", True)),
        denied_reason=denied_reason(raw.get("accessDeniedReason")),
        usage_limit=_optional_float(raw.get("usageLimit"), "usageLimit") or 0.0,
        current_usage=_optional_float(raw.get("currentUsage"), "currentUsage") or 0.0,
        has_soft_limit=bool(raw.get("hasSoftLimit", False)),
        usage_period_end=timestamp(raw.get("usagePeriodEnd")),
    )


def entitlement_list(
    items: object, where: str, skip: Skip = _ignore
) -> tuple[list[model.Entitlement], list[model.CreditEntitlement]]:
    """A list of entitlements, current (a union) or legacy: features and credit currencies."""
    if not isinstance(items, list):
        raise ParseError(f"{where} must be a list")
    features: list[model.Entitlement] = []
    credits: list[model.CreditEntitlement] = []
    for item in items:
        if not isinstance(item, Mapping):
            continue
        typename = item.get("__typename")
        if typename in (None, "Entitlement", "FeatureEntitlement"):
            features.append(entitlement(item))
        elif typename == "CreditEntitlement":
            credits.append(credit_entitlement(item))
        else:
            skip(str(typename))
    return features, credits


def entitlements_state(key: model.CustomerKey, raw: object, skip: Skip = _ignore) -> model.EntitlementState:
    """``entitlementsState`` → the customer's state (a denied customer has no entitlements)."""
    if not isinstance(raw, Mapping):
        raise ParseError("entitlementsState must be an object")
    if raw.get("entitlementsV2") is not None:
        features, credits = entitlement_list(raw["entitlementsV2"], "entitlementsState.entitlementsV2", skip)
    else:
        features, credits = entitlement_list(
            raw.get("entitlements") or [], "entitlementsState.entitlements", skip
        )
    return model.EntitlementState(
        key=key,
        entitlements={e.feature.id: e for e in features},
        denied_reason=denied_reason(raw.get("accessDeniedReason")),
        credits={c.currency.id: c for c in credits},
    )


def graphql_data(body: object) -> Mapping[str, Any]:
    """The ``data`` of a GraphQL-shaped body; a non-empty ``errors`` raises ``ParseError``."""
    if not isinstance(body, Mapping):
        raise ParseError("the body is not a JSON object")
    errors = body.get("errors")
    if errors:
        first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], Mapping) else {}
        code = (first.get("extensions") or {}).get("code") if isinstance(first, Mapping) else None
        raise ParseError(f"upstream error {code or ''}: {first.get('message', errors)!s:.300}".strip())
    data = body.get("data")
    if not isinstance(data, Mapping):
        raise ParseError("the body has no data object")
    return data


@dataclasses.dataclass(frozen=True, slots=True)
class EntitlementsUpdated:
    key: model.CustomerKey
    entitlements: tuple[model.Entitlement, ...]
    credits: tuple[model.CreditEntitlement, ...] = ()
    denied_reason: model.DeniedReason | None = None
    with_credits: bool = False  # the current protocol's: it says the credits too (legacy: no)


@dataclasses.dataclass(frozen=True, slots=True)
class UsageUpdated:
    key: model.CustomerKey
    feature_id: str
    current_usage: float
    entitlement: model.Entitlement | None


@dataclasses.dataclass(frozen=True, slots=True)
class CreditUsageUpdated:
    key: model.CustomerKey
    currency_id: str
    current_usage: float


@dataclasses.dataclass(frozen=True, slots=True)
class PackagePublished:
    package_ref_id: str
    all_customers: bool  # migrationType ALL_CUSTOMERS: existing customers move to it too


StreamEvent = EntitlementsUpdated | UsageUpdated | CreditUsageUpdated | PackagePublished


def _customer_key(raw: Mapping[str, Any], where: str) -> model.CustomerKey:
    customer_id = raw.get("customerId")
    if not isinstance(customer_id, str) or not customer_id:
        raise ParseError(f"{where}.customerId must be a non-empty string")
    resource_id = raw.get("resourceId")
    return model.CustomerKey(customer_id, str(resource_id) if resource_id else None)


def _usage_updated_v2(raw: Mapping[str, Any], skip: Skip) -> StreamEvent | None:
    reference = raw.get("entitlementReference")
    usage = raw.get("usage")
    if not isinstance(reference, Mapping) or not isinstance(usage, Mapping):
        raise ParseError("usageUpdatedV2 needs entitlementReference and usage objects")
    kind, ident = reference.get("type"), reference.get("id")
    current = _optional_float(usage.get("currentUsage"), "usageUpdatedV2.usage.currentUsage")
    if not isinstance(ident, str) or not ident or current is None:
        raise ParseError("usageUpdatedV2 needs entitlementReference.id and usage.currentUsage")
    key = _customer_key(raw, "usageUpdatedV2")
    if kind == "FEATURE":
        return UsageUpdated(key=key, feature_id=ident, current_usage=current, entitlement=None)
    if kind == "CREDIT":
        return CreditUsageUpdated(key=key, currency_id=ident, current_usage=current)
    skip(f"EntitlementReference.{kind}")
    return None


def stream_event(data: object, skip: Skip = _ignore) -> StreamEvent | None:
    """A subscription's ``payload.data`` → an event; None for a field the sidecar does not follow."""
    if not isinstance(data, Mapping):
        raise ParseError("the event has no data object")
    updated_v2 = data.get("entitlementsUpdatedV2")
    if isinstance(updated_v2, Mapping):
        features, credits = entitlement_list(
            updated_v2.get("entitlements") or [], "entitlementsUpdatedV2.entitlements", skip
        )
        return EntitlementsUpdated(
            key=_customer_key(updated_v2, "entitlementsUpdatedV2"),
            entitlements=tuple(features),
            credits=tuple(credits),
            denied_reason=denied_reason(updated_v2.get("accessDeniedReason")),
            with_credits=True,
        )
    usage_v2 = data.get("usageUpdatedV2")
    if isinstance(usage_v2, Mapping):
        return _usage_updated_v2(usage_v2, skip)
    published = data.get("packagePublished")
    if isinstance(published, Mapping):
        return PackagePublished(
            package_ref_id=str(published.get("packageRefId") or ""),
            all_customers=published.get("migrationType") == "ALL_CUSTOMERS",
        )
    updated = data.get("entitlementsUpdated")
    if isinstance(updated, Mapping):
        items = updated.get("entitlements") or []
        if not isinstance(items, list):
            raise ParseError("entitlementsUpdated.entitlements must be a list")
        return EntitlementsUpdated(
            key=_customer_key(updated, "entitlementsUpdated"),
            entitlements=tuple(entitlement(item) for item in items if isinstance(item, Mapping)),
        )
    usage_updated = data.get("usageUpdated")
    if isinstance(usage_updated, Mapping):
        usage = usage_updated.get("usage")
        if not isinstance(usage, Mapping):
            raise ParseError("usageUpdated.usage must be an object")
        feature_id = usage.get("featureId")
        current = _optional_float(usage.get("currentUsage"), "usageUpdated.usage.currentUsage")
        if not isinstance(feature_id, str) or not feature_id or current is None:
            raise ParseError("usageUpdated.usage needs featureId and currentUsage")
        raw_entitlement = usage_updated.get("entitlement")
        return UsageUpdated(
            key=_customer_key(usage, "usageUpdated.usage"),
            feature_id=feature_id,
            current_usage=current,
            entitlement=entitlement(raw_entitlement) if isinstance(raw_entitlement, Mapping) else None,
        )
    return None
