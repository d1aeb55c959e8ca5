"""The upstream emulator's mutable state, and the operations the endpoints perform on it.

``EmulatorState`` holds the catalog and everything that changes while the emulator runs:
the customers (the catalog's, replaced or added through the admin endpoints), their current
usage, the results of applied ``ReportUsage`` idempotency keys, the reported events, the
request counters and the fault knobs. It is used from one asyncio event loop only and its
methods never await, so each operation is atomic with respect to the others without locks.

Usage is kept per ``(customer, resource or None, feature)``. For an entitlement that resets,
a usage record remembers the period it belongs to; read in a later period it counts as zero,
as upstream resets it (``catalog.usage_period``). ``DELTA`` adds to the current usage, ``SET``
replaces it. A report that repeats an applied ``idempotencyKey`` returns the first report's
result and changes nothing. A report for a metered feature the subscription does not grant is
kept (the emulator does not refuse it) and shows once an entitlement grants the feature.
``ReportUsageBulk`` validates every report before applying any.
Events (``ReportEvent``) are stored once per ``idempotencyKey`` and not interpreted, since
upstream processes them asynchronously.

Counters record each product request when it arrives, before faults and authentication, by
endpoint (``edge:entitlements-state``, ``graphql:ReportUsage``, ...) and by customer, plus
the status each was answered with, so a test can prove how many requests reached upstream;
and the moment each arrived (the last ``ARRIVALS_KEPT``, wall-clock seconds, so that another
process on the machine can compare them with its own clock), so a test or a benchmark can tell
the rate the upstream saw (``arrivals``).

``reload`` re-reads the catalog file and discards customers and usage changed since (admin
changes, reported usage); counters, events, idempotency keys and faults are kept. ``reset``
additionally clears those and restores the fault settings the emulator started with.

Credits are kept the same way per ``(customer, resource or None, currency)``: the credits
consumed, starting from the catalog's ``creditUsage``, in the period of the grant's reset
period. A usage report for a feature whose entitlement has a credit rate consumes
``rate * increase`` credits of its currency (a decrease consumes none) when the subscription
grants that currency; ``ReportUsage`` then answers the consumption in its ``credit`` field.

Every change is also published, as Stigg's real-time stream would (``publish``, which the app
wires to ``stream.Hub.publish``), in both protocols:

- whenever ``put_customer``, ``delete_customer``, ``reload`` or ``reset`` changed a customer,
  for it and each of its resources (also those it just lost): ``entitlementsUpdated``
  (``customerId, resourceId, accessDeniedReason, entitlements``: the legacy list, empty for a
  deleted customer) and ``entitlementsUpdatedV2`` (the same with the ``entitlementsV2`` list and
  the state's reason, e.g. ``CustomerNotFound`` for a deleted customer);
- for every applied usage report (a replayed idempotency key publishes nothing, since nothing
  changed): ``usageUpdated`` (``usage`` with epoch-millisecond dates, and the feature's
  ``entitlement``) and ``usageUpdatedV2`` with ``entitlementReference {type: FEATURE, id}``,
  plus one ``usageUpdatedV2`` with ``{type: CREDIT, id: currency}`` when it consumed credits;
- when ``reload`` or ``reset`` changed a plan (or added one): ``packagePublished`` with
  ``packageType: "Plan"``, the plan's id and a version counted per plan, and
  ``migrationType: ALL_CUSTOMERS``, since the emulator applies the new plan to every customer.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
import enum
import math
import pathlib
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from stigg_emulator import catalog, faults, loading, render, stream

UsageKey = tuple[str, str | None, str]  # (customer id, resource id or None, feature or currency id)
ACCOUNT_ID = "emulator-account"
ENVIRONMENT_ID = "emulator-environment"
Publisher = Callable[[str, dict[str, Any]], None]  # (root field, payload), e.g. ``stream.Hub.publish``


def _publish_nowhere(field: str, payload: dict[str, Any]) -> None:
    """The default publisher, for an emulator state with no stream attached."""


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class UpstreamError(Exception):
    """A request upstream would refuse; ``code`` is the GraphQL error's ``extensions.code``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class UpdateBehavior(enum.Enum):
    DELTA = "DELTA"
    SET = "SET"


@dataclasses.dataclass(frozen=True)
class UsageReport:
    customer_id: str
    feature_id: str
    value: float
    update_behavior: UpdateBehavior = UpdateBehavior.DELTA
    resource_id: str | None = None
    idempotency_key: str | None = None
    dimensions: Mapping[str, object] | None = None
    created_at: datetime.datetime | None = None


@dataclasses.dataclass(frozen=True)
class UsageEvent:
    event_name: str
    customer_id: str
    idempotency_key: str
    resource_id: str | None = None
    dimensions: Mapping[str, object] | None = None
    timestamp: datetime.datetime | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "eventName": self.event_name,
            "customerId": self.customer_id,
            "idempotencyKey": self.idempotency_key,
            "resourceId": self.resource_id,
            "dimensions": dict(self.dimensions) if self.dimensions is not None else None,
            "timestamp": render.iso(self.timestamp) if self.timestamp is not None else None,
        }


@dataclasses.dataclass
class UsageRecord:
    value: float
    updated_at: datetime.datetime | None
    period_start: datetime.datetime | None  # the reset period this value belongs to, if any


ARRIVALS_KEPT = 200_000  # request arrival times kept (about 90 bytes each), the oldest forgotten


class RequestCounters:
    """How many product requests arrived, by endpoint and customer, how they were answered, and
    when the last ``ARRIVALS_KEPT`` of them arrived."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self.reset()

    def reset(self) -> None:
        self._arrivals: collections.deque[tuple[float, str]] = collections.deque(maxlen=ARRIVALS_KEPT)
        self.forgotten = 0  # arrivals older than the last ARRIVALS_KEPT
        self.total = 0
        self.by_endpoint: collections.Counter[str] = collections.Counter()
        self.by_customer: collections.Counter[str] = collections.Counter()
        self.by_endpoint_and_customer: dict[str, collections.Counter[str]] = {}
        self.by_status: collections.Counter[int] = collections.Counter()

    def record(self, endpoint: str, customers: Iterable[str]) -> None:
        if len(self._arrivals) == ARRIVALS_KEPT:
            self.forgotten += 1
        self._arrivals.append((self._clock(), endpoint))
        self.total += 1
        self.by_endpoint[endpoint] += 1
        per_customer = self.by_endpoint_and_customer.setdefault(endpoint, collections.Counter())
        for customer_id in dict.fromkeys(customers):  # each customer once per request, in order
            self.by_customer[customer_id] += 1
            per_customer[customer_id] += 1

    def record_status(self, status: int) -> None:
        self.by_status[status] += 1

    def arrivals(self, endpoint: str | None = None, since: float = -math.inf) -> list[float]:
        """When the kept requests (of ``endpoint``, if given) arrived at ``since`` or later, in
        order, in seconds since the epoch."""
        return [at for at, name in self._arrivals if at >= since and (endpoint is None or name == endpoint)]

    def as_json(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "byEndpoint": dict(self.by_endpoint),
            "byCustomer": dict(self.by_customer),
            "byEndpointAndCustomer": {
                name: dict(counts) for name, counts in self.by_endpoint_and_customer.items()
            },
            "byStatus": {str(status): count for status, count in sorted(self.by_status.items())},
        }


class EmulatorState:
    def __init__(
        self,
        initial: catalog.Catalog,
        *,
        catalog_path: pathlib.Path | None = None,
        fault_settings: faults.FaultSettings | None = None,
        seed: int | None = None,
        clock: Callable[[], datetime.datetime] = utc_now,
    ) -> None:
        self.catalog_path = catalog_path
        self.clock = clock
        self.publish: Publisher = _publish_nowhere
        self._initial_faults = fault_settings or faults.FaultSettings()
        self._seed = seed
        self.faults = faults.Faults(self._initial_faults, seed=seed)
        self.counters = RequestCounters()
        self.events: list[UsageEvent] = []
        self._event_keys: set[str] = set()
        self._usage_results: dict[str, dict[str, Any]] = {}
        self._plan_versions: dict[str, int] = dict.fromkeys(initial.plans, 1)
        self._load(initial)

    # -- catalog and customers -----------------------------------------------------------

    def _load(self, loaded: catalog.Catalog) -> None:
        previous: catalog.Catalog = getattr(self, "catalog", loaded)
        before = self._snapshot() if hasattr(self, "customers") else {}
        previous_plans = previous.plans
        now = self.clock()
        self.catalog = loaded
        self.customers: dict[str, catalog.Customer] = dict(loaded.customers)
        self.updated_at: dict[str, datetime.datetime] = dict.fromkeys(self.customers, now)
        self.usage: dict[UsageKey, UsageRecord] = {}
        self.credit_usage: dict[UsageKey, UsageRecord] = {}
        for customer in self.customers.values():
            self._put_defined_usage(customer, now)
        for plan_id, plan in loaded.plans.items():
            if previous_plans.get(plan_id) != plan:
                self._plan_versions[plan_id] = self._plan_versions.get(plan_id, 0) + 1
                self.publish(stream.PACKAGE_PUBLISHED, self._package_published(plan_id))
        after = self._snapshot()
        for customer_id in sorted(before.keys() | after.keys()):
            if before.get(customer_id) != after.get(customer_id):
                self._publish_entitlements(customer_id, before.get(customer_id, (None,))[0])

    def _package_published(self, plan_id: str) -> dict[str, Any]:
        return {
            "accountId": ACCOUNT_ID,
            "environmentId": ENVIRONMENT_ID,
            "packageType": "Plan",
            "packageRefId": plan_id,
            "packageVersion": self._plan_versions[plan_id],
            "migrationType": "ALL_CUSTOMERS",
        }

    def _snapshot(self) -> dict[str, tuple[catalog.Customer | None, dict[tuple[str, UsageKey], float]]]:
        """Per customer: its definition and usage values, to tell which ones a reload changed."""
        usage: dict[str, dict[tuple[str, UsageKey], float]] = {}
        for kind, records in (("feature", self.usage), ("credit", self.credit_usage)):
            for key, record in records.items():
                usage.setdefault(key[0], {})[(kind, key)] = record.value
        return {
            customer_id: (customer, usage.get(customer_id, {}))
            for customer_id, customer in self.customers.items()
        }

    def _publish_entitlements(self, customer_id: str, previous: catalog.Customer | None = None) -> None:
        """Publish the customer's entitlements, and each resource's (also those it just lost)."""
        current = self.customers.get(customer_id)
        resources: dict[str | None, None] = {None: None}
        for holder in (previous, current):
            if holder is not None:
                resources.update(dict.fromkeys(holder.resources))
        for resource_id in resources:
            state = self.entitlements_state(customer_id, resource_id)
            head = {
                "customerId": customer_id,
                "resourceId": resource_id,
                "accessDeniedReason": state["accessDeniedReason"],
            }
            self.publish(stream.ENTITLEMENTS_UPDATED, {**head, "entitlements": state["entitlements"]})
            self.publish(stream.ENTITLEMENTS_UPDATED_V2, {**head, "entitlements": state["entitlementsV2"]})

    def _put_defined_usage(self, customer: catalog.Customer, now: datetime.datetime) -> None:
        holders: list[tuple[str | None, catalog.Subscription]] = [(None, customer.subscription)]
        holders.extend(customer.resources.items())
        for resource_id, subscription in holders:
            for feature_id, value in subscription.usage.items():
                key = (customer.id, resource_id, feature_id)
                self.usage[key] = UsageRecord(value, None, self._period_start(key, now))
            for currency_id, value in subscription.credit_usage.items():
                key = (customer.id, resource_id, currency_id)
                period = self._credit_period(key, now)
                self.credit_usage[key] = UsageRecord(value, None, period[0] if period else None)

    def reload(self) -> catalog.Catalog:
        """Re-read the catalog file; on a ``CatalogError`` nothing changes."""
        if self.catalog_path is None:
            raise loading.CatalogError("", "the emulator was started without a catalog file")
        self._load(loading.load(self.catalog_path))
        return self.catalog

    def reset(self) -> None:
        """Back to the state just after start: catalog re-read, counters, events and keys cleared."""
        self._load(loading.load(self.catalog_path) if self.catalog_path is not None else self.catalog)
        self.counters.reset()
        self.events.clear()
        self._event_keys.clear()
        self._usage_results.clear()
        self.faults = faults.Faults(self._initial_faults, seed=self._seed)

    def put_customer(self, customer: catalog.Customer) -> bool:
        """Create or replace a customer, with the usage its definition gives; True if created."""
        previous = self.customers.get(customer.id)
        self._drop_usage(customer.id)
        now = self.clock()
        self.customers[customer.id] = customer
        self.updated_at[customer.id] = now
        self._put_defined_usage(customer, now)
        self._publish_entitlements(customer.id, previous)
        return previous is None

    def delete_customer(self, customer_id: str) -> bool:
        previous = self.customers.pop(customer_id, None)
        if previous is None:
            return False
        self.updated_at.pop(customer_id, None)
        self._drop_usage(customer_id)
        self._publish_entitlements(customer_id, previous)
        return True

    def _drop_usage(self, customer_id: str) -> None:
        for records in (self.usage, self.credit_usage):
            for key in [key for key in records if key[0] == customer_id]:
                del records[key]

    # -- reads -----------------------------------------------------------------------------

    def entitlements_state(self, customer_id: str, resource_id: str | None) -> dict[str, Any]:
        """The ``entitlementsState`` object the Edge API and ``GetEntitlementsState`` return."""
        now = self.clock()
        customer = self.customers.get(customer_id)
        records = self._records(customer_id, resource_id, now) if customer is not None else {}
        usage = {
            feature_id: render.MeasuredUsage(record.value, record.updated_at)
            for feature_id, record in records.items()
        }
        credits: dict[str, render.MeasuredUsage] = {}
        for currency_id in self.catalog.currencies:
            record = self._current_credit((customer_id, resource_id, currency_id), now)
            if record is not None:
                credits[currency_id] = render.MeasuredUsage(record.value, record.updated_at)
        return render.entitlements_state(
            self.catalog,
            customer,
            resource_id,
            usage=usage,
            credit_usage=credits,
            updated_at=self.updated_at.get(customer_id, now),
            now=now,
        )

    def entitlement(
        self, customer_id: str, resource_id: str | None, feature_id: str, *, requested_usage: float | None
    ) -> dict[str, Any]:
        """One feature's legacy ``Entitlement`` (``GetEntitlement``), the requested usage applied."""
        return render.single_entitlement(
            self.entitlements_state(customer_id, resource_id),
            customer_id=customer_id,
            resource_id=resource_id,
            feature_id=feature_id,
            requested_usage=requested_usage,
        )

    def usage_of(self, customer_id: str) -> dict[str, Any] | None:
        """A customer's current usage (own and per resource), or None for an unknown customer."""
        customer = self.customers.get(customer_id)
        if customer is None:
            return None
        now = self.clock()

        def values(resource_id: str | None) -> dict[str, int | float]:
            records = self._records(customer_id, resource_id, now)
            return {feature_id: render.json_number(record.value) for feature_id, record in records.items()}

        return {
            "customerId": customer_id,
            "usage": values(None),
            "resources": {resource_id: values(resource_id) for resource_id in customer.resources},
        }

    def _records(
        self, customer_id: str, resource_id: str | None, now: datetime.datetime
    ) -> dict[str, UsageRecord]:
        """The current usage records of one holder (a customer or resource), in catalog order."""
        found: dict[str, UsageRecord] = {}
        for feature_id in self.catalog.features:
            record = self._current((customer_id, resource_id, feature_id), now)
            if record is not None:
                found[feature_id] = record
        return found

    def _spec(self, key: UsageKey) -> catalog.EntitlementSpec | None:
        customer = self.customers.get(key[0])
        subscription = customer.subscription_for(key[1]) if customer is not None else None
        return subscription.entitlements.get(key[2]) if subscription is not None else None

    def _period(
        self, key: UsageKey, now: datetime.datetime
    ) -> tuple[datetime.datetime, datetime.datetime] | None:
        spec = self._spec(key)
        feature = self.catalog.features.get(key[2])
        if spec is None or spec.reset_period is None or feature is None or not feature.is_metered:
            return None
        return catalog.usage_period(spec.reset_period, now)

    def _period_start(self, key: UsageKey, now: datetime.datetime) -> datetime.datetime | None:
        period = self._period(key, now)
        return period[0] if period is not None else None

    def _current(self, key: UsageKey, now: datetime.datetime) -> UsageRecord | None:
        """The usage record as of ``now``: a record from an earlier reset period reads as zero."""
        return _in_period(self.usage.get(key), self._period_start(key, now))

    def _credit_spec(self, key: UsageKey) -> catalog.CreditSpec | None:
        customer = self.customers.get(key[0])
        subscription = customer.subscription_for(key[1]) if customer is not None else None
        return subscription.credits.get(key[2]) if subscription is not None else None

    def _credit_period(
        self, key: UsageKey, now: datetime.datetime
    ) -> tuple[datetime.datetime, datetime.datetime] | None:
        spec = self._credit_spec(key)
        if spec is None or spec.reset_period is None:
            return None
        return catalog.usage_period(spec.reset_period, now)

    def _current_credit(self, key: UsageKey, now: datetime.datetime) -> UsageRecord | None:
        """The credits consumed as of ``now`` (zero in a later period of the grant)."""
        period = self._credit_period(key, now)
        return _in_period(self.credit_usage.get(key), period[0] if period else None)

    # -- writes ----------------------------------------------------------------------------

    def report_usage(self, report: UsageReport) -> dict[str, Any]:
        """Apply one usage report (or replay its idempotency key); the ``reportUsage`` result."""
        self._validate(report)
        return self._apply(report)

    def report_usage_bulk(self, reports: Sequence[UsageReport]) -> list[dict[str, Any]]:
        """All reports are validated before any is applied, so a bad one changes nothing."""
        for report in reports:
            self._validate(report)
        return [self._apply(report) for report in reports]

    def report_events(self, events: Sequence[UsageEvent]) -> None:
        for event in events:
            if event.idempotency_key not in self._event_keys:
                self._event_keys.add(event.idempotency_key)
                self.events.append(event)

    def _validate(self, report: UsageReport) -> None:
        if report.idempotency_key is not None and report.idempotency_key in self._usage_results:
            return  # a replay answers the first result even if the customer changed since
        customer = self.customers.get(report.customer_id)
        if customer is None:
            raise UpstreamError("CustomerNotFound", f"customer '{report.customer_id}' was not found")
        if customer.archived:
            raise UpstreamError("CustomerNotFound", f"customer '{report.customer_id}' is archived")
        if report.resource_id is not None and report.resource_id not in customer.resources:
            raise UpstreamError(
                "CustomerResourceNotFound",
                f"resource '{report.resource_id}' of customer '{report.customer_id}' was not found",
            )
        feature = self.catalog.features.get(report.feature_id)
        if feature is None:
            raise UpstreamError("FeatureNotFound", f"feature '{report.feature_id}' was not found")
        if not feature.is_metered:
            raise UpstreamError(
                "MeteringNotAvailableForFeatureType",
                f"feature '{feature.id}' is {feature.kind_phrase}, not metered: "
                "usage cannot be reported for it",
            )

    def _apply(self, report: UsageReport) -> dict[str, Any]:
        if report.idempotency_key is not None:
            first = self._usage_results.get(report.idempotency_key)
            if first is not None:
                return first
        now = self.clock()
        key: UsageKey = (report.customer_id, report.resource_id, report.feature_id)
        record = self._current(key, now)
        previous = record.value if record is not None else 0.0
        value = previous + report.value if report.update_behavior is UpdateBehavior.DELTA else report.value
        period = self._period(key, now)
        self.usage[key] = UsageRecord(value, now, period[0] if period else None)
        credit = self._consume_credits(key, max(value - previous, 0.0), now)
        result = render.usage_measurement(
            measurement_id=str(uuid.uuid4()),
            customer_id=report.customer_id,
            resource_id=report.resource_id,
            feature_id=report.feature_id,
            current_usage=value,
            period=period,
            timestamp=report.created_at or now,
            credit=credit,
        )
        if report.idempotency_key is not None:
            self._usage_results[report.idempotency_key] = result
        self._publish_usage(key, result, period, now)
        if credit is not None:
            self._publish_credit_usage((key[0], key[1], credit.currency_id), now)
        return result

    def _consume_credits(
        self, key: UsageKey, increase: float, now: datetime.datetime
    ) -> render.CreditConsumption | None:
        """Charge the credits an increase of a feature's usage costs, if its entitlement has a
        rate in a currency the subscription grants."""
        spec = self._spec(key)
        rate = spec.credit_rate if spec is not None else None
        if rate is None:
            return None
        credit_key: UsageKey = (key[0], key[1], rate.currency_id)
        if self._credit_spec(credit_key) is None:
            return None
        record = self._current_credit(credit_key, now)
        consumed = increase * rate.amount
        total = (record.value if record is not None else 0.0) + consumed
        period = self._credit_period(credit_key, now)
        self.credit_usage[credit_key] = UsageRecord(total, now, period[0] if period else None)
        return render.CreditConsumption(
            currency_id=rate.currency_id,
            consumed=consumed,
            current_usage=total,
            period_end=period[1] if period else None,
        )

    def _publish_usage(
        self,
        key: UsageKey,
        result: Mapping[str, Any],
        period: tuple[datetime.datetime, datetime.datetime] | None,
        now: datetime.datetime,
    ) -> None:
        customer_id, resource_id, feature_id = key
        entitlement = next(
            (
                rendered
                for rendered in self.entitlements_state(customer_id, resource_id)["entitlements"]
                if rendered["feature"]["refId"] == feature_id
            ),
            None,
        )
        self.publish(
            stream.USAGE_UPDATED, {"usage": render.legacy_usage(result, period), "entitlement": entitlement}
        )
        self.publish(
            stream.USAGE_UPDATED_V2,
            {
                "customerId": customer_id,
                "resourceId": resource_id,
                "entitlementReference": {"type": "FEATURE", "id": feature_id},
                "usage": render.usage_v2(result["currentUsage"], now, period),
            },
        )

    def _publish_credit_usage(self, key: UsageKey, now: datetime.datetime) -> None:
        record = self._current_credit(key, now)
        period = self._credit_period(key, now)
        self.publish(
            stream.USAGE_UPDATED_V2,
            {
                "customerId": key[0],
                "resourceId": key[1],
                "entitlementReference": {"type": "CREDIT", "id": key[2]},
                "usage": render.usage_v2(record.value if record is not None else 0.0, now, period),
            },
        )


def _in_period(record: UsageRecord | None, period_start: datetime.datetime | None) -> UsageRecord | None:
    """A record read in the period starting ``period_start``: zero if it is of an earlier one."""
    if record is None:
        return None
    if record.period_start is not None and period_start is not None and record.period_start != period_start:
        return UsageRecord(0.0, record.updated_at, period_start)
    return record
