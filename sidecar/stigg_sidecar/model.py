"""The sidecar's domain types: features, entitlements, credit currencies and their
entitlements, one customer's entitlement state, and the usage reports and events written
about customers.

Pure data, no I/O, independent of the wire format: ``wire`` maps these to and from the
``stigg.sidecar.v1`` messages, ``upstream`` builds them from Stigg's JSON (and sends the
reports), ``defaults`` from the static default values, ``outbox`` stores the reports.
Instances are immutable, so the store can hand the same object to any number of concurrent
checks.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
from collections.abc import Mapping


class FeatureType(enum.Enum):
    BOOLEAN = "BOOLEAN"
    NUMBER = "NUMBER"
    ENUM = "ENUM"


class MeterType(enum.Enum):
    NONE = "None"
    FLUCTUATING = "Fluctuating"
    INCREMENTAL = "Incremental"


class ResetPeriod(enum.Enum):
    DAY = "DAY"
    HOUR = "HOUR"
    MONTH = "MONTH"
    WEEK = "WEEK"
    YEAR = "YEAR"


class DeniedReason(enum.IntEnum):
    """Why access is denied; the numbers are ``stigg.sidecar.v1.AccessDeniedReason``'s."""

    UNKNOWN = 1
    CUSTOMER_IS_ARCHIVED = 2
    CUSTOMER_NOT_FOUND = 3
    CUSTOMER_RESOURCE_NOT_FOUND = 4
    FEATURE_NOT_FOUND = 5
    NO_ACTIVE_SUBSCRIPTION = 6
    NO_FEATURE_ENTITLEMENT_IN_SUBSCRIPTION = 7
    REQUESTED_USAGE_EXCEEDING_LIMIT = 8
    BUDGET_EXCEEDED = 9
    REQUESTED_VALUES_MISMATCH = 10
    FEATURE_TYPE_MISMATCH = 11
    INSUFFICIENT_CREDITS = 12
    REVOKED = 13
    ENTITLEMENT_NOT_FOUND = 14


class CheckKind(enum.Enum):
    """What a typed getter expects the feature to be (``ANY`` for GetEntitlement)."""

    ANY = "any"
    BOOLEAN = "boolean"
    NUMERIC = "numeric"
    METERED = "metered"
    ENUM = "enum"

    # Members are singletons compared by identity: hash them so too, in C (Enum's own
    # ``__hash__`` is a Python call, paid by every in-process check that keys on a kind).
    __hash__ = object.__hash__


@dataclasses.dataclass(frozen=True, slots=True)
class Feature:
    id: str
    feature_type: FeatureType
    meter_type: MeterType = MeterType.NONE
    units: str | None = None
    units_plural: str | None = None

    @property
    def is_metered(self) -> bool:
        return self.meter_type is not MeterType.NONE

    @property
    def kind(self) -> CheckKind:
        if self.feature_type is FeatureType.BOOLEAN:
            return CheckKind.BOOLEAN
        if self.feature_type is FeatureType.ENUM:
            return CheckKind.ENUM
        return CheckKind.METERED if self.is_metered else CheckKind.NUMERIC


@dataclasses.dataclass(frozen=True, slots=True)
class Entitlement:
    """One feature's entitlement for a customer (and resource)."""

    feature: Feature
    is_granted: bool = True
    denied_reason: DeniedReason | None = None
    usage_limit: float | None = None
    is_unlimited: bool = False
    has_soft_limit: bool = False
    current_usage: float = 0.0
    enum_values: tuple[str, ...] = ()
    reset_period: ResetPeriod | None = None
    usage_period_anchor: datetime.datetime | None = None
    usage_period_start: datetime.datetime | None = None
    usage_period_end: datetime.datetime | None = None

    def with_usage(self, current_usage: float) -> Entitlement:
        return dataclasses.replace(self, current_usage=current_usage)


@dataclasses.dataclass(frozen=True, slots=True)
class Currency:
    """A credit currency (Stigg's ``EntitlementCurrency``); ``metadata`` is a JSON object."""

    id: str
    display_name: str = ""
    description: str | None = None
    unit_singular: str | None = None
    unit_plural: str | None = None
    metadata: Mapping[str, object] | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class CreditEntitlement:
    """A customer's (or resource's) balance of one credit currency for the current period."""

    currency: Currency
    is_granted: bool = True
    denied_reason: DeniedReason | None = None
    usage_limit: float = 0.0
    current_usage: float = 0.0
    has_soft_limit: bool = False
    usage_period_end: datetime.datetime | None = None

    @property
    def remaining(self) -> float:
        return max(0.0, self.usage_limit - self.current_usage)

    def with_usage(self, current_usage: float) -> CreditEntitlement:
        return dataclasses.replace(self, current_usage=current_usage)


@dataclasses.dataclass(frozen=True, slots=True)
class CustomerKey:
    """What the cache is keyed by: a customer, and optionally one of its resources."""

    customer_id: str
    resource_id: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class EntitlementState:
    """Everything known about one customer (and resource): the unit the cache stores.

    ``denied_reason`` is set when the customer as a whole is denied (not found, archived):
    then ``entitlements`` is empty. An entitlement present with ``is_granted=False`` is a
    feature that exists but is not in the customer's plan; an absent one is unknown.
    """

    key: CustomerKey
    entitlements: Mapping[str, Entitlement]
    denied_reason: DeniedReason | None = None
    credits: Mapping[str, CreditEntitlement] = dataclasses.field(default_factory=dict)  # by currency

    @property
    def exists(self) -> bool:
        return self.denied_reason not in {
            DeniedReason.CUSTOMER_NOT_FOUND,
            DeniedReason.CUSTOMER_RESOURCE_NOT_FOUND,
        }

    def with_usage(self, feature_id: str, current_usage: float) -> EntitlementState:
        """A copy with one feature's current usage replaced (unknown features are ignored)."""
        entitlement = self.entitlements.get(feature_id)
        if entitlement is None:
            return self
        updated = dict(self.entitlements)
        updated[feature_id] = entitlement.with_usage(current_usage)
        return dataclasses.replace(self, entitlements=updated)

    def with_usage_event(
        self, feature_id: str, current_usage: float, entitlement: Entitlement | None
    ) -> EntitlementState:
        """A usage event applied: the event's entitlement of the feature (if it sent one) with
        ``current_usage``, else only the usage."""
        if entitlement is not None and entitlement.feature.id == feature_id:
            return self.with_entitlement(entitlement.with_usage(current_usage))
        return self.with_usage(feature_id, current_usage)

    def with_credit_usage(self, currency_id: str, current_usage: float) -> EntitlementState:
        """A copy with one currency's consumed credits replaced (unknown currencies are ignored)."""
        credit = self.credits.get(currency_id)
        if credit is None:
            return self
        return dataclasses.replace(
            self, credits={**self.credits, currency_id: credit.with_usage(current_usage)}
        )

    def with_entitlement(self, entitlement: Entitlement) -> EntitlementState:
        """A copy with one feature's entitlement replaced (or added)."""
        updated = dict(self.entitlements)
        updated[entitlement.feature.id] = entitlement
        return dataclasses.replace(self, entitlements=updated)


class Offline(Exception):
    """The sidecar runs with ``OFFLINE=true``: there is no upstream to read from or write to."""


DimensionValue = str | float | bool


@dataclasses.dataclass(frozen=True, slots=True)
class UsageReport:
    customer_id: str
    feature_id: str
    value: float
    resource_id: str | None = None
    set_total: bool = False  # SET (the new total) rather than DELTA (a change)
    dimensions: Mapping[str, DimensionValue] = dataclasses.field(default_factory=dict)
    timestamp: datetime.datetime | None = None
    idempotency_key: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class UsageResult:
    measurement_id: str
    customer_id: str
    feature_id: str
    resource_id: str | None
    current_usage: float | None
    usage_period_start: datetime.datetime | None = None
    usage_period_end: datetime.datetime | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class UsageEvent:
    event_name: str
    customer_id: str
    idempotency_key: str
    resource_id: str | None = None
    dimensions: Mapping[str, DimensionValue] = dataclasses.field(default_factory=dict)
    timestamp: datetime.datetime | None = None
