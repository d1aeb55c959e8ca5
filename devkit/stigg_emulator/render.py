"""Rendering the catalog's values as Stigg's JSON, purely: usage and moments come in as
arguments (``state`` owns them), so the same inputs always render the same objects.

``entitlements_state`` is the ``entitlementsState`` object that the Edge API and the GraphQL
``GetEntitlementsState`` carry, and from which the stream's events are cut. It has both of
Stigg's lists:

- ``entitlements``, the legacy list of ``Entitlement`` objects (Stigg's ``EntitlementFragment``,
  ``granted_entitlement``): every catalog feature in catalog order, those the subscription
  grants as granted and the others as not granted (``NoFeatureEntitlementInSubscription``,
  ``missing_entitlement``), so a client can tell them from unknown features. This is what the
  sidecar reads, and what legacy clients (``GetEntitlements``, ``entitlements.json``) get;
- ``entitlementsV2``, the current list, a union told apart by ``__typename``: the same features
  as ``FeatureEntitlement`` objects (``feature_entitlement``: the legacy object without its
  customer, resource, requested and ``nextResetDate`` fields), then one ``CreditEntitlement``
  per credit currency the subscription grants (``credit_entitlement``: the currency with its
  display name, units and metadata, the credits granted per period as ``usageLimit``, those
  consumed as ``currentUsage``, ``hasSoftLimit`` and the period's end). Currencies that are
  not granted are not listed.

The state-level ``accessDeniedReason`` is one of ``EntitlementsStateAccessDeniedReason``'s
three values (``STATE_REASONS``: an unknown customer, an archived one, one without an active
subscription), with empty lists. An unknown *resource* of a known customer is not a state-level
reason in Stigg's schema: its state has no reason and lists every feature as not granted with
the entitlement-level ``CustomerResourceNotFound``. Whether a particular request fits
(``requestedUsage`` against ``usageLimit``) is the client's computation, as in Stigg's SDKs, so
nothing in a state is ``requestedUsage``-dependent; ``single_entitlement`` (the legacy
``GetEntitlement``, one feature with a requested usage) is the exception, as upstream.

``usage_measurement`` is an applied usage report as ``ReportUsage`` answers it (with the
credits it consumed, if its feature has a credit rate); ``legacy_usage`` and ``usage_v2`` are
the ``usage`` objects of the stream's ``usageUpdated`` (``UsageMeasurementUpdated``, whose
dates are epoch milliseconds, ``Float`` in Stigg's schema) and ``usageUpdatedV2`` (ISO dates).

A numeric configuration feature carries its value in ``usageLimit``; ``currentUsage`` is a
number for metered features only; the period fields (``usagePeriodAnchor|Start|End``,
``nextResetDate``) are set for entitlements that reset, from ``catalog.usage_period``.
Moments are written as JavaScript's ``toISOString`` does (``iso``) and integral numbers as
JSON integers (``json_number``), since the real service is a JavaScript server.

``AccessDeniedReason`` is the GraphQL enum's PascalCase spelling, which is what this JSON
carries; it is not ``stigg_sidecar.model.DeniedReason``, whose values are the sidecar's
protobuf numbers and which has reasons (usage exceeding a limit, ...) that only a check
computes.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
from collections.abc import Mapping
from typing import Any

from stigg_emulator import catalog
from stigg_sidecar import model


class AccessDeniedReason(enum.Enum):
    """The GraphQL ``AccessDeniedReason`` values (PascalCase) that the emulator sends."""

    CUSTOMER_NOT_FOUND = "CustomerNotFound"
    CUSTOMER_IS_ARCHIVED = "CustomerIsArchived"
    CUSTOMER_RESOURCE_NOT_FOUND = "CustomerResourceNotFound"
    NO_ACTIVE_SUBSCRIPTION = "NoActiveSubscription"
    NO_FEATURE_ENTITLEMENT_IN_SUBSCRIPTION = "NoFeatureEntitlementInSubscription"
    FEATURE_NOT_FOUND = "FeatureNotFound"
    REQUESTED_USAGE_EXCEEDING_LIMIT = "RequestedUsageExceedingLimit"


# ``EntitlementsStateAccessDeniedReason``: the only reasons an entitlements state may carry.
STATE_REASONS = frozenset(
    {
        AccessDeniedReason.CUSTOMER_NOT_FOUND,
        AccessDeniedReason.CUSTOMER_IS_ARCHIVED,
        AccessDeniedReason.NO_ACTIVE_SUBSCRIPTION,
    }
)

# The fields of a ``FeatureEntitlement`` (Stigg's ``FeatureEntitlementFragment``), in order.
FEATURE_ENTITLEMENT_FIELDS = (
    "isGranted",
    "accessDeniedReason",
    "usageLimit",
    "hasUnlimitedUsage",
    "hasSoftLimit",
    "currentUsage",
    "enumValues",
    "entitlementUpdatedAt",
    "usageUpdatedAt",
    "usagePeriodAnchor",
    "usagePeriodStart",
    "usagePeriodEnd",
    "resetPeriod",
    "resetPeriodConfiguration",
    "feature",
    "creditRate",
    "validUntil",
)


@dataclasses.dataclass(frozen=True)
class MeasuredUsage:
    """A metered feature's current usage as the emulator's state knows it."""

    value: float
    updated_at: datetime.datetime | None = None


def iso(moment: datetime.datetime) -> str:
    """ISO-8601 in UTC with milliseconds and ``Z``, as JavaScript's ``toISOString`` writes it."""
    utc = moment.astimezone(datetime.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


def epoch_ms(moment: datetime.datetime) -> int:
    """Milliseconds since the epoch, as JavaScript's ``getTime`` gives them."""
    return (moment - _EPOCH) // datetime.timedelta(milliseconds=1)


def json_number(value: float) -> int | float:
    """Integral values as JSON integers (``5``, not ``5.0``), as a JavaScript server writes them."""
    number = float(value)
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


def access_denied_reason(
    customer: catalog.Customer | None, resource_id: str | None
) -> AccessDeniedReason | None:
    """The state-level reason (one of ``STATE_REASONS``), or None when there is a state to list.

    An unknown resource of a known customer has a state (without any reason), whose features
    are all denied ``CustomerResourceNotFound``.
    """
    if customer is None:
        return AccessDeniedReason.CUSTOMER_NOT_FOUND
    if customer.archived:
        return AccessDeniedReason.CUSTOMER_IS_ARCHIVED
    subscription = customer.subscription_for(resource_id)
    if subscription is not None and not subscription.active:
        return AccessDeniedReason.NO_ACTIVE_SUBSCRIPTION
    return None


def entitlements_state(
    known: catalog.Catalog,
    customer: catalog.Customer | None,
    resource_id: str | None,
    *,
    usage: Mapping[str, MeasuredUsage],
    credit_usage: Mapping[str, MeasuredUsage] | None = None,
    updated_at: datetime.datetime,
    now: datetime.datetime,
) -> dict[str, Any]:
    """The ``entitlementsState`` object: both lists, or empty lists and a denial reason.

    ``usage`` maps a metered feature's id to its current usage (absent: zero, never updated),
    ``credit_usage`` a currency's id to the credits consumed; ``updated_at`` is when the
    customer's entitlements last changed.
    """
    reason = access_denied_reason(customer, resource_id)
    legacy: list[dict[str, Any]] = []
    credits: list[dict[str, Any]] = []
    if reason is None and customer is not None:
        subscription = customer.subscription_for(resource_id)
        for feature_id, feature in known.features.items():
            spec = subscription.entitlements.get(feature_id) if subscription is not None else None
            if spec is None:
                legacy.append(
                    missing_entitlement(
                        feature,
                        customer_id=customer.id,
                        resource_id=resource_id,
                        updated_at=updated_at,
                        reason=AccessDeniedReason.NO_FEATURE_ENTITLEMENT_IN_SUBSCRIPTION
                        if subscription is not None
                        else AccessDeniedReason.CUSTOMER_RESOURCE_NOT_FOUND,
                    )
                )
            else:
                legacy.append(
                    granted_entitlement(
                        feature,
                        spec,
                        customer_id=customer.id,
                        resource_id=resource_id,
                        usage=usage.get(feature_id),
                        updated_at=updated_at,
                        now=now,
                    )
                )
        for currency_id, credit in (subscription.credits if subscription is not None else {}).items():
            currency = known.currencies.get(currency_id)
            if currency is not None:
                credits.append(
                    credit_entitlement(
                        currency,
                        credit,
                        consumed=(credit_usage or {}).get(currency_id),
                        updated_at=updated_at,
                        now=now,
                    )
                )
    return {
        "__typename": "EntitlementsState",
        "entitlements": legacy,
        "entitlementsV2": [feature_entitlement(entitlement) for entitlement in legacy] + credits,
        "accessDeniedReason": None if reason is None else reason.value,
    }


def feature_entitlement(legacy: Mapping[str, Any]) -> dict[str, Any]:
    """A legacy ``Entitlement`` as the ``FeatureEntitlement`` of ``entitlementsV2``."""
    return {
        "__typename": "FeatureEntitlement",
        **{name: legacy.get(name) for name in FEATURE_ENTITLEMENT_FIELDS},
    }


def credit_entitlement(
    currency: catalog.Currency,
    credit: catalog.CreditSpec,
    *,
    consumed: MeasuredUsage | None,
    updated_at: datetime.datetime,
    now: datetime.datetime,
) -> dict[str, Any]:
    """One ``CreditEntitlement`` (Stigg's ``CreditEntitlementFragment``)."""
    period = catalog.usage_period(credit.reset_period, now) if credit.reset_period else None
    current = consumed or MeasuredUsage(0.0)
    return {
        "__typename": "CreditEntitlement",
        "isGranted": True,
        "accessDeniedReason": None,
        "currency": currency_object(currency),
        "usageLimit": json_number(credit.usage_limit),
        "currentUsage": json_number(current.value),
        "hasSoftLimit": credit.has_soft_limit,
        "usageUpdatedAt": iso(current.updated_at) if current.updated_at else None,
        "entitlementUpdatedAt": iso(updated_at),
        "usagePeriodEnd": iso(period[1]) if period else None,
        "validUntil": None,
    }


def currency_object(currency: catalog.Currency) -> dict[str, Any]:
    """A ``CreditEntitlement``'s ``currency``."""
    return {
        "currencyId": currency.id,
        "displayName": currency.display_name,
        "description": currency.description,
        "unitSingular": currency.unit_singular,
        "unitPlural": currency.unit_plural,
        "additionalMetaData": dict(currency.metadata) if currency.metadata is not None else None,
    }


def single_entitlement(
    state: Mapping[str, Any],
    *,
    customer_id: str,
    resource_id: str | None,
    feature_id: str,
    requested_usage: float | None,
) -> dict[str, Any]:
    """The legacy ``GetEntitlement`` answer: one feature's ``Entitlement`` from a state, with
    the requested usage applied (a hard limit it would exceed denies it)."""
    reason = state["accessDeniedReason"]
    found = next((e for e in state["entitlements"] if e["feature"]["refId"] == feature_id), None)
    if found is None:
        return {
            "__typename": "Entitlement",
            "isGranted": False,
            "accessDeniedReason": reason or AccessDeniedReason.FEATURE_NOT_FOUND.value,
            "customerId": customer_id,
            "resourceId": resource_id,
            "hasUnlimitedUsage": False,
            "requestedUsage": None if requested_usage is None else json_number(requested_usage),
            "feature": None,
        }
    entitlement = {
        **found,
        "requestedUsage": None if requested_usage is None else json_number(requested_usage),
    }
    limit, current = entitlement.get("usageLimit"), entitlement.get("currentUsage")
    exceeds = (
        entitlement["isGranted"]
        and requested_usage is not None
        and entitlement["feature"]["isMetered"]
        and not entitlement["hasUnlimitedUsage"]
        and not entitlement["hasSoftLimit"]
        and limit is not None
        and (current or 0) + requested_usage > limit
    )
    if exceeds:
        entitlement["isGranted"] = False
        entitlement["accessDeniedReason"] = AccessDeniedReason.REQUESTED_USAGE_EXCEEDING_LIMIT.value
    return entitlement


def granted_entitlement(
    feature: catalog.Feature,
    spec: catalog.EntitlementSpec,
    *,
    customer_id: str,
    resource_id: str | None,
    usage: MeasuredUsage | None,
    updated_at: datetime.datetime,
    now: datetime.datetime,
) -> dict[str, Any]:
    """One granted ``Entitlement`` (Stigg's ``EntitlementFragment``).

    A numeric configuration feature carries its value in ``usageLimit``; ``currentUsage`` is a
    number for metered features only; the period fields are set for entitlements that reset.
    """
    is_number = feature.feature_type is model.FeatureType.NUMBER
    period = (
        catalog.usage_period(spec.reset_period, now) if feature.is_metered and spec.reset_period else None
    )
    current = usage or MeasuredUsage(0.0)
    return {
        "__typename": "Entitlement",
        "isGranted": True,
        "accessDeniedReason": None,
        "customerId": customer_id,
        "resourceId": resource_id,
        "usageLimit": json_number(spec.usage_limit) if is_number and spec.usage_limit is not None else None,
        "hasUnlimitedUsage": is_number and spec.has_unlimited_usage,
        "hasSoftLimit": feature.is_metered and spec.has_soft_limit,
        "currentUsage": json_number(current.value) if feature.is_metered else None,
        "requestedUsage": None,
        "requestedValues": None,
        "enumValues": list(spec.enum_values or ())
        if feature.feature_type is model.FeatureType.ENUM
        else None,
        "entitlementUpdatedAt": iso(updated_at),
        "usageUpdatedAt": iso(current.updated_at) if feature.is_metered and current.updated_at else None,
        "usagePeriodAnchor": iso(period[0]) if period else None,
        **_period_fields(period),
        "resetPeriod": spec.reset_period.value if period and spec.reset_period else None,
        "resetPeriodConfiguration": None,
        "creditRate": _credit_rate(spec.credit_rate) if feature.is_metered else None,
        "validUntil": None,
        "feature": entitlement_feature(feature),
    }


def _credit_rate(rate: catalog.CreditRate | None) -> dict[str, Any] | None:
    return None if rate is None else {"amount": json_number(rate.amount), "currencyId": rate.currency_id}


def usage_measurement(
    *,
    measurement_id: str,
    customer_id: str,
    resource_id: str | None,
    feature_id: str,
    current_usage: float,
    period: tuple[datetime.datetime, datetime.datetime] | None,
    timestamp: datetime.datetime,
    credit: CreditConsumption | None = None,
) -> dict[str, Any]:
    """An applied usage report, as ``ReportUsage`` answers it (``UsageMeasurementWithCurrentUsage``).

    ``period`` is the usage's reset period, if its entitlement resets; ``timestamp`` is the
    report's ``createdAt``, else when it was applied; ``credit`` the credits it consumed.
    """
    return {
        "__typename": "UsageMeasurementWithCurrentUsage",
        "id": measurement_id,
        "featureId": feature_id,
        "customerId": customer_id,
        "resourceId": resource_id,
        "currentUsage": json_number(current_usage),
        "credit": None
        if credit is None
        else {
            "currencyId": credit.currency_id,
            "currentUsage": json_number(credit.current_usage),
            "usagePeriodEnd": iso(credit.period_end) if credit.period_end else None,
            "timestamp": iso(timestamp),
            "consumed": json_number(credit.consumed),
        },
        **_period_fields(period),
        "timestamp": iso(timestamp),
    }


@dataclasses.dataclass(frozen=True)
class CreditConsumption:
    """The credits a usage report consumed, and the currency's consumption after it."""

    currency_id: str
    consumed: float
    current_usage: float
    period_end: datetime.datetime | None


def legacy_usage(
    result: Mapping[str, Any], period: tuple[datetime.datetime, datetime.datetime] | None
) -> dict[str, Any]:
    """The legacy ``usageUpdated``'s ``usage`` (``UsageMeasurementUpdated``: dates in epoch ms)."""
    return {
        "__typename": "UsageMeasurementUpdated",
        "customerId": result["customerId"],
        "resourceId": result["resourceId"],
        "featureId": result["featureId"],
        "currentUsage": result["currentUsage"],
        "usagePeriodStart": epoch_ms(period[0]) if period else None,
        "usagePeriodEnd": epoch_ms(period[1]) if period else None,
        "nextResetDate": epoch_ms(period[1]) if period else None,
    }


def usage_v2(
    current_usage: float,
    updated_at: datetime.datetime,
    period: tuple[datetime.datetime | None, datetime.datetime | None] | None,
) -> dict[str, Any]:
    """The ``usageUpdatedV2``'s ``usage`` (Stigg's ``UsageV2Fragment``)."""
    start, end = period if period is not None else (None, None)
    return {
        "currentUsage": json_number(current_usage),
        "usageUpdatedAt": iso(updated_at),
        "usagePeriodStart": iso(start) if start else None,
        "usagePeriodEnd": iso(end) if end else None,
    }


def _period_fields(period: tuple[datetime.datetime, datetime.datetime] | None) -> dict[str, str | None]:
    """A reset period's start, its end, and the next reset (the end), or all None."""
    return {
        "usagePeriodStart": iso(period[0]) if period else None,
        "usagePeriodEnd": iso(period[1]) if period else None,
        "nextResetDate": iso(period[1]) if period else None,
    }


def entitlement_feature(feature: catalog.Feature) -> dict[str, Any]:
    """An entitlement's ``feature`` object."""
    return {
        "__typename": "EntitlementFeature",
        "featureType": feature.feature_type.value,
        "meterType": feature.meter_type.value,
        "featureUnits": feature.units,
        "featureUnitsPlural": feature.units_plural,
        "description": feature.description,
        "displayName": feature.display_name or feature.id,
        "refId": feature.id,
        "isMetered": feature.is_metered,
        "unitTransformation": None,
    }


def missing_entitlement(
    feature: catalog.Feature,
    *,
    customer_id: str,
    resource_id: str | None,
    updated_at: datetime.datetime,
    reason: AccessDeniedReason = AccessDeniedReason.NO_FEATURE_ENTITLEMENT_IN_SUBSCRIPTION,
) -> dict[str, Any]:
    """A catalog feature outside the customer's subscription (or of an unknown resource):
    listed, but not granted, with every field of the fragment."""
    return {
        "__typename": "Entitlement",
        "isGranted": False,
        "accessDeniedReason": reason.value,
        "customerId": customer_id,
        "resourceId": resource_id,
        "usageLimit": None,
        "hasUnlimitedUsage": False,
        "hasSoftLimit": False,
        "currentUsage": None,
        "requestedUsage": None,
        "requestedValues": None,
        "enumValues": None,
        "entitlementUpdatedAt": iso(updated_at),
        "usageUpdatedAt": None,
        "usagePeriodAnchor": None,
        **_period_fields(None),
        "resetPeriod": None,
        "resetPeriodConfiguration": None,
        "creditRate": None,
        "validUntil": None,
        "feature": entitlement_feature(feature),
    }
