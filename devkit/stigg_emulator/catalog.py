"""The emulator's catalog as frozen values: features, credit currencies, plans' entitlements,
and customers with the subscriptions (a plan with overrides merged in) that they and their
resources hold.

Nothing here reads files or renders JSON: ``loading`` builds these values from the YAML (and
validates it), ``render`` turns them into Stigg's JSON, ``state`` keeps the mutable rest
(current usage, timestamps). A ``Subscription`` already holds the effective entitlements, so
neither ``render`` nor ``state`` looks a plan up; a plan change therefore takes a catalog
reload or an admin replace of the customer, as upstream.

A feature is ``BOOLEAN``, ``NUMBER`` or ``ENUM``; only a ``NUMBER`` feature may be metered
(``meterType`` ``Fluctuating``, a gauge such as seats, or ``Incremental``, a counter that an
entitlement's ``resetPeriod`` resets). A ``Currency`` is a credit currency (Stigg's custom
currency: a display name, units and free metadata); a plan grants credits of a currency
(``CreditSpec``: a limit per period, possibly soft), and a metered feature's entitlement may
cost credits per unit (its ``credit_rate``), which is how reported usage consumes them.
``usage_period`` says what a reset period means: the
calendar-aligned UTC period containing a moment (the hour, the day, the ISO week from
Monday, the month, the year), whose start is also the ``usagePeriodAnchor``.

The kinds of feature and meter and the reset periods are the product's own enums
(``stigg_sidecar.model.FeatureType``, ``MeterType``, ``ResetPeriod``): the same Stigg names
with the same values, which are also the YAML's spellings, so the emulator does not declare
them again (it may import the product's pure model; the product never imports the emulator).
The emulator's ``Feature`` is not ``model.Feature``: it also has the catalog's display name,
description and enum values, and its ``kind_phrase`` is how error messages name its kind
(``metered (Incremental)``), where ``model.Feature.kind`` is a check's ``CheckKind``.

``SAMPLE_PATH`` is the packaged sample catalog that tests, benchmarks and the demo serve.
"""

from __future__ import annotations

import dataclasses
import datetime
import pathlib
from collections.abc import Mapping

from stigg_sidecar import model

SAMPLE_PATH = pathlib.Path(__file__).with_name("sample_catalog.yaml")


@dataclasses.dataclass(frozen=True)
class Feature:
    id: str
    feature_type: model.FeatureType
    meter_type: model.MeterType = model.MeterType.NONE
    display_name: str | None = None
    description: str | None = None
    units: str | None = None
    units_plural: str | None = None
    enum_values: tuple[str, ...] = ()

    @property
    def is_metered(self) -> bool:
        return self.meter_type is not model.MeterType.NONE

    @property
    def kind_phrase(self) -> str:
        """How error messages name the feature's kind."""
        if self.feature_type is model.FeatureType.NUMBER:
            return f"metered ({self.meter_type.value})" if self.is_metered else "numeric"
        return self.feature_type.name.lower()


@dataclasses.dataclass(frozen=True)
class EntitlementSpec:
    """What a plan (or an override) grants for one feature."""

    usage_limit: float | None = None
    has_unlimited_usage: bool = False
    has_soft_limit: bool = False
    enum_values: tuple[str, ...] | None = None
    reset_period: model.ResetPeriod | None = None
    credit_rate: CreditRate | None = None


@dataclasses.dataclass(frozen=True)
class CreditRate:
    """What one unit of a metered feature costs in credits of a currency."""

    amount: float
    currency_id: str


@dataclasses.dataclass(frozen=True)
class Currency:
    """A credit currency (Stigg's custom currency)."""

    id: str
    display_name: str
    description: str | None = None
    unit_singular: str | None = None
    unit_plural: str | None = None
    metadata: Mapping[str, str] | None = None  # ``additionalMetaData``


@dataclasses.dataclass(frozen=True)
class CreditSpec:
    """What a plan (or an override) grants of one currency: credits per period."""

    usage_limit: float
    has_soft_limit: bool = False
    reset_period: model.ResetPeriod | None = None


@dataclasses.dataclass(frozen=True)
class Plan:
    id: str
    entitlements: Mapping[str, EntitlementSpec]
    display_name: str | None = None
    credits: Mapping[str, CreditSpec] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Subscription:
    """What a customer, or one of its resources, has: a plan with overrides applied."""

    plan: str | None
    entitlements: Mapping[str, EntitlementSpec]
    usage: Mapping[str, float]
    credits: Mapping[str, CreditSpec] = dataclasses.field(default_factory=dict)
    credit_usage: Mapping[str, float] = dataclasses.field(default_factory=dict)  # consumed, by currency

    @property
    def active(self) -> bool:
        return self.plan is not None or bool(self.entitlements) or bool(self.credits)


@dataclasses.dataclass(frozen=True)
class Customer:
    id: str
    subscription: Subscription
    resources: Mapping[str, Subscription] = dataclasses.field(default_factory=dict)
    archived: bool = False

    @property
    def plan(self) -> str | None:
        return self.subscription.plan

    def subscription_for(self, resource_id: str | None) -> Subscription | None:
        """The customer's own subscription, or a resource's; None for an unknown resource."""
        if resource_id is None:
            return self.subscription
        return self.resources.get(resource_id)


@dataclasses.dataclass(frozen=True)
class Catalog:
    features: Mapping[str, Feature]
    plans: Mapping[str, Plan]
    customers: Mapping[str, Customer]
    currencies: Mapping[str, Currency] = dataclasses.field(default_factory=dict)


def usage_period(
    period: model.ResetPeriod, now: datetime.datetime
) -> tuple[datetime.datetime, datetime.datetime]:
    """The calendar-aligned UTC period containing ``now``: ``(start, end)``, end exclusive."""
    now = now.astimezone(datetime.UTC)
    if period is model.ResetPeriod.HOUR:
        start = now.replace(minute=0, second=0, microsecond=0)
        return start, start + datetime.timedelta(hours=1)
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period is model.ResetPeriod.DAY:
        return day, day + datetime.timedelta(days=1)
    if period is model.ResetPeriod.WEEK:
        start = day - datetime.timedelta(days=day.weekday())
        return start, start + datetime.timedelta(days=7)
    if period is model.ResetPeriod.MONTH:
        start = day.replace(day=1)
        end = (
            start.replace(year=start.year + 1, month=1)
            if start.month == 12
            else start.replace(month=start.month + 1)
        )
        return start, end
    start = day.replace(month=1, day=1)
    return start, start.replace(year=start.year + 1)
