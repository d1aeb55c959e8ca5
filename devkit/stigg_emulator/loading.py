"""Reading the emulator's YAML catalog into ``catalog`` values, validating as it goes.

The file has four top-level lists, each entry keyed by ``id``::

    features:
      - {id: feature-sso, featureType: BOOLEAN}
      - {id: feature-api-calls, featureType: NUMBER, meterType: Incremental, units: call, unitsPlural: calls}
      - {id: feature-region, featureType: ENUM, enumValues: [us, eu]}
    currencies:                                                 # credit currencies
      - {id: cred-ai, displayName: AI credits, unitSingular: credit, unitPlural: credits,
         description: ..., metadata: {tier: standard}}
    plans:
      - id: plan-pro
        entitlements:
          feature-sso: {}
          feature-api-calls: {usageLimit: 10000, hasSoftLimit: true, resetPeriod: MONTH}
          feature-region: {enumValues: [us, eu]}
          feature-ai-queries: {hasUnlimitedUsage: true, creditRate: {amount: 2, currencyId: cred-ai}}
        credits:
          cred-ai: {usageLimit: 5000, hasSoftLimit: false, resetPeriod: MONTH}
    customers:
      - id: customer-acme
        plan: plan-pro
        overrides: {feature-api-calls: {usageLimit: 20000}}   # merged over the plan's entitlement
        usage: {feature-api-calls: 1200}                        # current usage, metered features only
        credits: {cred-ai: {usageLimit: 8000}}                  # merged over the plan's credits
        creditUsage: {cred-ai: 300}                             # credits consumed this period
        resources:
          - {id: workspace-1, plan: plan-pro, usage: {feature-api-calls: 3}}
      - {id: customer-gone, plan: plan-pro, archived: true}

``refId`` is accepted for a feature's ``id``, as Stigg calls a feature's id its refId. What an
entitlement may say depends on its feature (``allowed_entitlement_fields``): nothing for a
boolean; ``usageLimit`` (the value) or ``hasUnlimitedUsage`` for a numeric configuration
feature; additionally ``hasSoftLimit`` for a metered one and ``resetPeriod`` (``HOUR|DAY|WEEK|
MONTH|YEAR``) for an incremental one; ``enumValues`` (a subset of the feature's) for an enum;
``creditRate`` (``amount`` credits of ``currencyId`` per unit) for a metered one. A credit
grant says ``usageLimit`` (required, at least 0), ``hasSoftLimit`` and ``resetPeriod``; it
overrides field by field too; ``creditUsage`` (credits consumed) is keyed by currency.
An override keeps what it does not say from the plan's entitlement, except that setting one
of ``usageLimit`` and ``hasUnlimitedUsage`` alone clears the other. A customer without a plan
(``plan: null``) has no subscription; overrides may also grant a feature its plan lacks.

``load`` reads a file, ``parse`` an already loaded document, ``parse_customer`` one customer
(the admin endpoint's body) against a catalog's features and plans. Every problem is a
``CatalogError`` whose message starts with its place in the document, e.g.
``customers[2].plan: unknown plan 'gold'``; the small typed readers at the end each take the
path they read at, so no caller has to say where it was.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import pathlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Protocol, TypeVar

import yaml

from stigg_emulator import catalog
from stigg_sidecar import model

E = TypeVar("E", bound=enum.Enum)


class _Identified(Protocol):
    @property
    def id(self) -> str: ...


_Entry = TypeVar("_Entry", bound=_Identified)


class CatalogError(ValueError):
    """A catalog (or an admin-supplied customer) that cannot be used; ``path`` names the place."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


_TOP_LEVEL_FIELDS = frozenset({"features", "currencies", "plans", "customers"})
_FEATURE_FIELDS = frozenset(
    {
        "id",
        "refId",
        "displayName",
        "description",
        "featureType",
        "meterType",
        "units",
        "unitsPlural",
        "enumValues",
    }
)
_CURRENCY_FIELDS = frozenset({"id", "displayName", "description", "unitSingular", "unitPlural", "metadata"})
_PLAN_FIELDS = frozenset({"id", "displayName", "entitlements", "credits"})
_CUSTOMER_FIELDS = frozenset(
    {"id", "plan", "archived", "overrides", "usage", "credits", "creditUsage", "resources"}
)
_RESOURCE_FIELDS = frozenset({"id", "plan", "overrides", "usage", "credits", "creditUsage"})
_CREDIT_FIELDS = ("usageLimit", "hasSoftLimit", "resetPeriod")
_CREDIT_RATE_FIELDS = frozenset({"amount", "currencyId"})
# The spellings an error lists, in this order (the model declares the reset periods by name).
_FEATURE_TYPES = tuple(model.FeatureType)
_METER_TYPES = tuple(model.MeterType)
_RESET_PERIODS = (
    model.ResetPeriod.HOUR,
    model.ResetPeriod.DAY,
    model.ResetPeriod.WEEK,
    model.ResetPeriod.MONTH,
    model.ResetPeriod.YEAR,
)
_ENTITLEMENT_FIELDS = (
    "usageLimit",
    "hasUnlimitedUsage",
    "hasSoftLimit",
    "enumValues",
    "resetPeriod",
    "creditRate",
)


def load(path: pathlib.Path) -> catalog.Catalog:
    """Read and validate a catalog file; every problem is a ``CatalogError``."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogError(str(path), f"cannot read the catalog: {exc.strerror or exc}") from exc
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise CatalogError(str(path), f"not valid YAML{where}") from exc
    return parse(document)


def parse(document: object) -> catalog.Catalog:
    """Validate a YAML document (already loaded) and build the catalog."""
    if document is None:
        document = {}
    root = _fields(document, "", "the catalog", _TOP_LEVEL_FIELDS)

    features = _by_id(root, "features", "feature", _parse_feature)
    currencies = _by_id(root, "currencies", "currency", _parse_currency)
    known = catalog.Catalog(features=features, plans={}, customers={}, currencies=currencies)
    plans = _by_id(root, "plans", "plan", lambda raw, path: _parse_plan(raw, path, known))
    known = dataclasses.replace(known, plans=plans)
    customers = _by_id(
        root, "customers", "customer", lambda raw, path: _parse_customer(raw, path, known, customer_id=None)
    )
    return dataclasses.replace(known, customers=customers)


def _by_id(
    root: Mapping[str, object], key: str, what: str, parse_one: Callable[[object, str], _Entry]
) -> dict[str, _Entry]:
    """A top-level list (``features``, ...) parsed entry by entry, by id; an id may not repeat."""
    entries: dict[str, _Entry] = {}
    for index, raw in enumerate(_list(root.get(key), key)):
        path = f"{key}[{index}]"
        entry = parse_one(raw, path)
        if entry.id in entries:
            raise CatalogError(f"{path}.id", f"duplicate {what} '{entry.id}'")
        entries[entry.id] = entry
    return entries


def parse_customer(document: object, known: catalog.Catalog, *, customer_id: str) -> catalog.Customer:
    """Validate one customer (an admin request's body) against the catalog's features and plans.

    The body has a catalog customer's fields; ``id`` may be left out, and must otherwise equal
    ``customer_id``. Error paths are relative to the body (``plan``, ``overrides.f.usageLimit``).
    """
    return _parse_customer(document, "", known, customer_id=customer_id)


def _parse_feature(raw: object, path: str) -> catalog.Feature:
    body = _fields(raw, path, "a feature", _FEATURE_FIELDS)
    feature_id = _feature_id(body, path)
    feature_type = _required_enum(_FEATURE_TYPES, body.get("featureType"), _join(path, "featureType"))
    meter_type = _enum(_METER_TYPES, body.get("meterType"), _join(path, "meterType")) or model.MeterType.NONE
    if meter_type is not model.MeterType.NONE and feature_type is not model.FeatureType.NUMBER:
        raise CatalogError(
            _join(path, "meterType"), f"only a NUMBER feature can be metered, not a {feature_type.value} one"
        )
    enum_values: tuple[str, ...] = ()
    if feature_type is model.FeatureType.ENUM:
        enum_values = _string_list(body.get("enumValues"), _join(path, "enumValues"), required=True)
    elif "enumValues" in body:
        raise CatalogError(_join(path, "enumValues"), "only an ENUM feature has enum values")
    return catalog.Feature(
        id=feature_id,
        feature_type=feature_type,
        meter_type=meter_type,
        display_name=_optional_string(body.get("displayName"), _join(path, "displayName")),
        description=_optional_string(body.get("description"), _join(path, "description")),
        units=_optional_string(body.get("units"), _join(path, "units")),
        units_plural=_optional_string(body.get("unitsPlural"), _join(path, "unitsPlural")),
        enum_values=enum_values,
    )


def _feature_id(body: Mapping[str, object], path: str) -> str:
    given = {key: body[key] for key in ("id", "refId") if body.get(key) is not None}
    if not given:
        raise CatalogError(_join(path, "id"), "required")
    ids = {key: _string(value, _join(path, key)) for key, value in given.items()}
    if len(set(ids.values())) > 1:
        raise CatalogError(_join(path, "refId"), f"differs from id '{ids['id']}'")
    return next(iter(ids.values()))


def _parse_currency(raw: object, path: str) -> catalog.Currency:
    body = _fields(raw, path, "a currency", _CURRENCY_FIELDS)
    metadata: dict[str, str] | None = None
    if body.get("metadata") is not None:
        given = _mapping(body["metadata"], _join(path, "metadata"), "metadata")
        metadata = {key: _string(value, _join(_join(path, "metadata"), key)) for key, value in given.items()}
    return catalog.Currency(
        id=_string(body.get("id"), _join(path, "id")),
        display_name=_string(body.get("displayName"), _join(path, "displayName")),
        description=_optional_string(body.get("description"), _join(path, "description")),
        unit_singular=_optional_string(body.get("unitSingular"), _join(path, "unitSingular")),
        unit_plural=_optional_string(body.get("unitPlural"), _join(path, "unitPlural")),
        metadata=metadata,
    )


def _parse_plan(raw: object, path: str, known: catalog.Catalog) -> catalog.Plan:
    body = _fields(raw, path, "a plan", _PLAN_FIELDS)
    plan_id = _string(body.get("id"), _join(path, "id"))
    entitlements: dict[str, catalog.EntitlementSpec] = {}
    for feature, raw_spec, spec_path in _by_feature(body, "entitlements", path, known.features):
        entitlements[feature.id] = _parse_entitlement(raw_spec, spec_path, feature, known, base=None)
    credits: dict[str, catalog.CreditSpec] = {}
    for currency, raw_spec, spec_path in _by_currency(body, "credits", path, known.currencies):
        credits[currency.id] = _parse_credit(raw_spec, spec_path, base=None)
    return catalog.Plan(
        id=plan_id,
        entitlements=entitlements,
        display_name=_optional_string(body.get("displayName"), _join(path, "displayName")),
        credits=credits,
    )


def _parse_customer(
    raw: object, path: str, known: catalog.Catalog, *, customer_id: str | None
) -> catalog.Customer:
    body = _fields(raw, path, "a customer", _CUSTOMER_FIELDS)
    if customer_id is None:
        customer_id = _string(body.get("id"), _join(path, "id"))
    elif body.get("id") is not None and body.get("id") != customer_id:
        raise CatalogError(_join(path, "id"), f"must be '{customer_id}', the customer being replaced")
    archived = body.get("archived", False)
    if not isinstance(archived, bool):
        raise CatalogError(_join(path, "archived"), "must be true or false")
    subscription = _parse_subscription(body, path, known)
    resources: dict[str, catalog.Subscription] = {}
    for index, raw_resource in enumerate(_list(body.get("resources"), _join(path, "resources"))):
        resource_path = f"{_join(path, 'resources')}[{index}]"
        resource = _fields(raw_resource, resource_path, "a resource", _RESOURCE_FIELDS)
        resource_id = _string(resource.get("id"), _join(resource_path, "id"))
        if resource_id in resources:
            raise CatalogError(_join(resource_path, "id"), f"duplicate resource '{resource_id}'")
        resources[resource_id] = _parse_subscription(resource, resource_path, known)
    return catalog.Customer(
        id=customer_id,
        subscription=subscription,
        resources=resources,
        archived=archived,
    )


def _parse_subscription(
    body: Mapping[str, object], path: str, known: catalog.Catalog
) -> catalog.Subscription:
    plan_id = _optional_string(body.get("plan"), _join(path, "plan"))
    entitlements: dict[str, catalog.EntitlementSpec] = {}
    credits: dict[str, catalog.CreditSpec] = {}
    if plan_id is not None:
        plan = known.plans.get(plan_id)
        if plan is None:
            raise CatalogError(_join(path, "plan"), f"unknown plan '{plan_id}'")
        entitlements.update(plan.entitlements)
        credits.update(plan.credits)

    for feature, raw_spec, spec_path in _by_feature(body, "overrides", path, known.features):
        base = entitlements.get(feature.id)
        entitlements[feature.id] = _parse_entitlement(raw_spec, spec_path, feature, known, base=base)

    usage: dict[str, float] = {}
    for feature, raw_value, value_path in _by_feature(body, "usage", path, known.features):
        if not feature.is_metered:
            raise CatalogError(value_path, f"feature '{feature.id}' is {feature.kind_phrase}, not metered")
        usage[feature.id] = _number(raw_value, value_path)

    for currency, raw_spec, spec_path in _by_currency(body, "credits", path, known.currencies):
        credits[currency.id] = _parse_credit(raw_spec, spec_path, base=credits.get(currency.id))
    credit_usage: dict[str, float] = {}
    for currency, raw_value, value_path in _by_currency(body, "creditUsage", path, known.currencies):
        if currency.id not in credits:
            raise CatalogError(value_path, f"currency '{currency.id}' is not granted here")
        credit_usage[currency.id] = _number(raw_value, value_path)
    return catalog.Subscription(
        plan=plan_id, entitlements=entitlements, usage=usage, credits=credits, credit_usage=credit_usage
    )


def _parse_credit(raw: object, path: str, *, base: catalog.CreditSpec | None) -> catalog.CreditSpec:
    """One credit grant; with ``base`` (a customer's override), fields not given keep the base's."""
    body = _mapping({} if raw is None else raw, path, "a credit grant")
    for key in body:
        if key not in _CREDIT_FIELDS:
            raise CatalogError(
                _join(path, key), f"unknown field (expected one of: {', '.join(_CREDIT_FIELDS)})"
            )
    if "usageLimit" in body:
        usage_limit = _number(body["usageLimit"], _join(path, "usageLimit"))
        if usage_limit < 0:
            raise CatalogError(_join(path, "usageLimit"), "must not be negative")
    elif base is not None:
        usage_limit = base.usage_limit
    else:
        raise CatalogError(_join(path, "usageLimit"), "required")
    has_soft_limit = base.has_soft_limit if base is not None else False
    if "hasSoftLimit" in body:
        has_soft_limit = _boolean(body["hasSoftLimit"], _join(path, "hasSoftLimit"))
    reset_period = base.reset_period if base is not None else None
    if "resetPeriod" in body:
        reset_period = _enum(_RESET_PERIODS, body["resetPeriod"], _join(path, "resetPeriod"))
    return catalog.CreditSpec(
        usage_limit=usage_limit, has_soft_limit=has_soft_limit, reset_period=reset_period
    )


def _parse_credit_rate(raw: object, path: str, known: catalog.Catalog) -> catalog.CreditRate:
    body = _fields(raw, path, "a credit rate", _CREDIT_RATE_FIELDS)
    amount = _number(body.get("amount"), _join(path, "amount")) if "amount" in body else None
    if amount is None or amount <= 0:
        raise CatalogError(_join(path, "amount"), "required, a number above 0")
    currency_id = _string(body.get("currencyId"), _join(path, "currencyId"))
    if currency_id not in known.currencies:
        raise CatalogError(_join(path, "currencyId"), f"unknown currency '{currency_id}'")
    return catalog.CreditRate(amount=amount, currency_id=currency_id)


def allowed_entitlement_fields(feature: catalog.Feature) -> tuple[str, ...]:
    """The entitlement fields that make sense for this kind of feature."""
    if feature.feature_type is model.FeatureType.BOOLEAN:
        return ()
    if feature.feature_type is model.FeatureType.ENUM:
        return ("enumValues",)
    if feature.meter_type is model.MeterType.NONE:
        return ("usageLimit", "hasUnlimitedUsage")
    if feature.meter_type is model.MeterType.FLUCTUATING:
        return ("usageLimit", "hasUnlimitedUsage", "hasSoftLimit", "creditRate")
    return ("usageLimit", "hasUnlimitedUsage", "hasSoftLimit", "resetPeriod", "creditRate")


def _parse_entitlement(
    raw: object,
    path: str,
    feature: catalog.Feature,
    known: catalog.Catalog,
    *,
    base: catalog.EntitlementSpec | None,
) -> catalog.EntitlementSpec:
    """One entitlement; with ``base`` (an override), fields not given keep the base's values."""
    body = _mapping({} if raw is None else raw, path, "an entitlement")
    allowed = allowed_entitlement_fields(feature)
    for key in body:
        if key not in _ENTITLEMENT_FIELDS:
            raise CatalogError(
                _join(path, key), f"unknown field (expected one of: {', '.join(_ENTITLEMENT_FIELDS)})"
            )
        if key not in allowed:
            raise CatalogError(
                _join(path, key), f"not allowed for {feature.kind_phrase} feature '{feature.id}'"
            )
    start = base or catalog.EntitlementSpec()
    usage_limit, has_unlimited = _limits(body, path, start)
    has_soft_limit = start.has_soft_limit
    if "hasSoftLimit" in body:
        has_soft_limit = _boolean(body["hasSoftLimit"], _join(path, "hasSoftLimit"))
    reset_period = start.reset_period
    if "resetPeriod" in body:
        reset_period = _enum(_RESET_PERIODS, body["resetPeriod"], _join(path, "resetPeriod"))
    enum_values = start.enum_values
    if "enumValues" in body:
        enum_values = _entitled_values(body["enumValues"], _join(path, "enumValues"), feature)
    credit_rate = start.credit_rate
    if "creditRate" in body:
        raw_rate = body["creditRate"]
        credit_rate = (
            None if raw_rate is None else _parse_credit_rate(raw_rate, _join(path, "creditRate"), known)
        )

    if feature.feature_type is model.FeatureType.NUMBER:
        if usage_limit is not None and has_unlimited:
            raise CatalogError(path, "usageLimit and hasUnlimitedUsage: true exclude each other")
        if usage_limit is None and not has_unlimited:
            raise CatalogError(path, "needs usageLimit or hasUnlimitedUsage: true")
    if feature.feature_type is model.FeatureType.ENUM and enum_values is None:
        raise CatalogError(path, "needs enumValues")
    return catalog.EntitlementSpec(
        usage_limit=usage_limit,
        has_unlimited_usage=has_unlimited,
        has_soft_limit=has_soft_limit,
        enum_values=enum_values,
        reset_period=reset_period,
        credit_rate=credit_rate,
    )


def _limits(
    body: Mapping[str, object], path: str, start: catalog.EntitlementSpec
) -> tuple[float | None, bool]:
    """``(usageLimit, hasUnlimitedUsage)``: setting one of them alone clears the other."""
    usage_limit = start.usage_limit
    has_unlimited = start.has_unlimited_usage
    if "usageLimit" in body:
        raw_limit = body["usageLimit"]
        usage_limit = None if raw_limit is None else _number(raw_limit, _join(path, "usageLimit"))
        if usage_limit is not None and usage_limit < 0:
            raise CatalogError(_join(path, "usageLimit"), "must not be negative")
        if "hasUnlimitedUsage" not in body:
            has_unlimited = False
    if "hasUnlimitedUsage" in body:
        has_unlimited = _boolean(body["hasUnlimitedUsage"], _join(path, "hasUnlimitedUsage"))
        if has_unlimited and "usageLimit" not in body:
            usage_limit = None
    return usage_limit, has_unlimited


def _entitled_values(raw: object, path: str, feature: catalog.Feature) -> tuple[str, ...]:
    values = _string_list(raw, path, required=True)
    for index, value in enumerate(values):
        if value not in feature.enum_values:
            allowed = ", ".join(feature.enum_values)
            raise CatalogError(
                f"{path}[{index}]", f"'{value}' is not a value of feature '{feature.id}' (one of: {allowed})"
            )
    return values


def _by_feature(
    body: Mapping[str, object], key: str, path: str, features: Mapping[str, catalog.Feature]
) -> Iterator[tuple[catalog.Feature, object, str]]:
    """The entries of ``body[key]``, a mapping keyed by feature id (absent: none), in order:
    each one's known feature, its raw value and its path."""
    keyed_path = _join(path, key)
    raw = body.get(key)
    if raw is None:
        return
    for feature_id, value in _mapping(raw, keyed_path, "features").items():
        value_path = _join(keyed_path, feature_id)
        yield _known_feature(feature_id, value_path, features), value, value_path


def _by_currency(
    body: Mapping[str, object], key: str, path: str, currencies: Mapping[str, catalog.Currency]
) -> Iterator[tuple[catalog.Currency, object, str]]:
    """The entries of ``body[key]``, a mapping keyed by currency id (absent: none), in order."""
    keyed_path = _join(path, key)
    raw = body.get(key)
    if raw is None:
        return
    for currency_id, value in _mapping(raw, keyed_path, "currencies").items():
        value_path = _join(keyed_path, currency_id)
        currency = currencies.get(currency_id)
        if currency is None:
            raise CatalogError(value_path, f"unknown currency '{currency_id}'")
        yield currency, value, value_path


def _known_feature(feature_id: object, path: str, features: Mapping[str, catalog.Feature]) -> catalog.Feature:
    feature = features.get(feature_id) if isinstance(feature_id, str) else None
    if feature is None:
        raise CatalogError(path, f"unknown feature '{feature_id}'")
    return feature


# -- small typed readers: each names the path it failed at -----------------------------------


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _mapping(raw: object, path: str, what: str) -> Mapping[str, object]:
    if not isinstance(raw, Mapping):
        raise CatalogError(path, f"expected a mapping of {what}, got {_type_name(raw)}")
    for key in raw:
        if not isinstance(key, str):
            raise CatalogError(path, f"keys must be strings, got {key!r}")
    return raw


def _list(raw: object, path: str) -> list[object]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise CatalogError(path, f"expected a list, got {_type_name(raw)}")
    return raw


def _fields(raw: object, path: str, what: str, allowed: frozenset[str]) -> Mapping[str, object]:
    """A mapping with no keys but ``allowed``."""
    body = _mapping(raw, path, what)
    _check_fields(body, path, allowed)
    return body


def _check_fields(body: Mapping[str, object], path: str, allowed: frozenset[str]) -> None:
    for key in body:
        if key not in allowed:
            raise CatalogError(
                _join(path, key), f"unknown field (expected one of: {', '.join(sorted(allowed))})"
            )


def _string(raw: object, path: str) -> str:
    if raw is None:
        raise CatalogError(path, "required")
    if not isinstance(raw, str) or not raw:
        raise CatalogError(path, f"expected a non-empty string, got {_type_name(raw)}")
    return raw


def _optional_string(raw: object, path: str) -> str | None:
    return None if raw is None else _string(raw, path)


def _string_list(raw: object, path: str, *, required: bool) -> tuple[str, ...]:
    if raw is None and not required:
        return ()
    if not isinstance(raw, list) or not raw:
        raise CatalogError(path, f"expected a non-empty list of strings, got {_type_name(raw)}")
    values = tuple(_string(value, f"{path}[{index}]") for index, value in enumerate(raw))
    if len(set(values)) != len(values):
        raise CatalogError(path, "values must be unique")
    return values


def _number(raw: object, path: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise CatalogError(path, f"expected a number, got {_type_name(raw)}")
    if not math.isfinite(raw):
        raise CatalogError(path, "expected a finite number")
    return float(raw)


def _boolean(raw: object, path: str) -> bool:
    if not isinstance(raw, bool):
        raise CatalogError(path, f"expected true or false, got {_type_name(raw)}")
    return raw


def _enum(choices: Sequence[E], raw: object, path: str) -> E | None:
    return None if raw is None else _required_enum(choices, raw, path)


def _required_enum(choices: Sequence[E], raw: object, path: str) -> E:
    """The member of ``choices`` spelt ``raw`` (its value); errors list them in their order."""
    listed = ", ".join(str(member.value) for member in choices)
    if raw is None:
        raise CatalogError(path, f"required (one of: {listed})")
    for member in choices:
        if member.value == raw:
            return member
    raise CatalogError(path, f"expected one of: {listed}, got {raw!r}")


def _type_name(raw: object) -> str:
    if raw is None:
        return "nothing"
    if isinstance(raw, bool):
        return "a boolean"
    if isinstance(raw, str):
        return f"the string {raw!r}" if raw else "an empty string"
    return {dict: "a mapping", list: "a list", int: "a number", float: "a number"}.get(
        type(raw), type(raw).__name__
    )
