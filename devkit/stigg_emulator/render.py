"""Rendering the catalog's values as Stigg's JSON, purely: usage and moments come in as
arguments (``state`` owns them), so the same inputs always render the same objects.

``entitlements_state`` is the ``entitlementsState`` object that the Edge API, the GraphQL
``GetEntitlementsState`` and the stream's ``entitlementsUpdated`` carry: every catalog feature
in catalog order, those the subscription grants as granted ``Entitlement`` objects (Stigg's
``EntitlementFragment``, ``granted_entitlement``) and the others as not granted
(``NoFeatureEntitlementInSubscription``, ``missing_entitlement``), so a client can tell them
from unknown features; or no entitlements and the ``accessDeniedReason`` that
``access_denied_reason`` finds (an unknown, archived or unsubscribed customer, an unknown
resource). Whether a particular request fits (``requestedUsage`` against ``usageLimit``) is the
client's computation, as in Stigg's SDKs, so nothing here is ``requestedUsage``-dependent.

``usage_measurement`` is an applied usage report as ``ReportUsage`` answers it.

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
    """The GraphQL enum values (PascalCase) that an entitlements state may carry."""

    CUSTOMER_NOT_FOUND = "CustomerNotFound"
    CUSTOMER_IS_ARCHIVED = "CustomerIsArchived"
    CUSTOMER_RESOURCE_NOT_FOUND = "CustomerResourceNotFound"
    NO_ACTIVE_SUBSCRIPTION = "NoActiveSubscription"
    NO_FEATURE_ENTITLEMENT_IN_SUBSCRIPTION = "NoFeatureEntitlementInSubscription"


@dataclasses.dataclass(frozen=True)
class MeasuredUsage:
    """A metered feature's current usage as the emulator's state knows it."""

    value: float
    updated_at: datetime.datetime | None = None


def iso(moment: datetime.datetime) -> str:
    """ISO-8601 in UTC with milliseconds and ``Z``, as JavaScript's ``toISOString`` writes it."""
    utc = moment.astimezone(datetime.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def json_number(value: float) -> int | float:
    """Integral values as JSON integers (``5``, not ``5.0``), as a JavaScript server writes them."""
    number = float(value)
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


def access_denied_reason(
    customer: catalog.Customer | None, resource_id: str | None
) -> AccessDeniedReason | None:
    """Why a customer (or its resource) has no entitlements state, or None when it has one."""
    if customer is None:
        return AccessDeniedReason.CUSTOMER_NOT_FOUND
    if customer.archived:
        return AccessDeniedReason.CUSTOMER_IS_ARCHIVED
    subscription = customer.subscription_for(resource_id)
    if subscription is None:
        return AccessDeniedReason.CUSTOMER_RESOURCE_NOT_FOUND
    if not subscription.active:
        return AccessDeniedReason.NO_ACTIVE_SUBSCRIPTION
    return None


def entitlements_state(
    features: Mapping[str, catalog.Feature],
    customer: catalog.Customer | None,
    resource_id: str | None,
    *,
    usage: Mapping[str, MeasuredUsage],
    updated_at: datetime.datetime,
    now: datetime.datetime,
) -> dict[str, Any]:
    """The ``entitlementsState`` object: the entitlements in catalog order, or a denial reason.

    Every feature of the catalog is listed: those outside the subscription as not granted
    (``NoFeatureEntitlementInSubscription``), so a client can tell them from unknown features.

    ``usage`` maps a metered feature's id to its current usage (absent: zero, never updated);
    ``updated_at`` is when the customer's entitlements last changed.
    """
    reason = access_denied_reason(customer, resource_id)
    entitlements: list[dict[str, Any]] = []
    if reason is None and customer is not None:
        subscription = customer.subscription_for(resource_id)
        assert subscription is not None  # noqa: S101 -- access_denied_reason checked it
        for feature_id, feature in features.items():
            spec = subscription.entitlements.get(feature_id)
            if spec is None:
                entitlements.append(
                    missing_entitlement(
                        feature, customer_id=customer.id, resource_id=resource_id, updated_at=updated_at
                    )
                )
            else:
                entitlements.append(
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
    return {
        "__typename": "EntitlementsState",
        "entitlements": entitlements,
        "accessDeniedReason": None if reason is None else reason.value,
    }


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
        "creditRate": None,
        "validUntil": None,
        "feature": entitlement_feature(feature),
    }


def usage_measurement(
    *,
    measurement_id: str,
    customer_id: str,
    resource_id: str | None,
    feature_id: str,
    current_usage: float,
    period: tuple[datetime.datetime, datetime.datetime] | None,
    timestamp: datetime.datetime,
) -> dict[str, Any]:
    """An applied usage report, as ``ReportUsage`` answers it (``UsageMeasurementWithCurrentUsage``).

    ``period`` is the usage's reset period, if its entitlement resets; ``timestamp`` is the
    report's ``createdAt``, else when it was applied.
    """
    return {
        "__typename": "UsageMeasurementWithCurrentUsage",
        "id": measurement_id,
        "featureId": feature_id,
        "customerId": customer_id,
        "resourceId": resource_id,
        "currentUsage": json_number(current_usage),
        **_period_fields(period),
        "timestamp": iso(timestamp),
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
    }


def missing_entitlement(
    feature: catalog.Feature, *, customer_id: str, resource_id: str | None, updated_at: datetime.datetime
) -> dict[str, Any]:
    """A catalog feature outside the customer's subscription: listed, but not granted."""
    return {
        "__typename": "Entitlement",
        "isGranted": False,
        "accessDeniedReason": AccessDeniedReason.NO_FEATURE_ENTITLEMENT_IN_SUBSCRIPTION.value,
        "customerId": customer_id,
        "resourceId": resource_id,
        "usageLimit": None,
        "hasUnlimitedUsage": False,
        "hasSoftLimit": False,
        "currentUsage": None,
        "enumValues": None,
        "entitlementUpdatedAt": iso(updated_at),
        "feature": entitlement_feature(feature),
    }
