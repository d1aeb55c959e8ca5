"""The emulator's GraphQL operations, without HTTP: naming a request's operation, coercing
its variables as GraphQL would, and resolving it against ``state``.

This is **not** a GraphQL server: there is no parser and no selection of fields. A request
names its operation (the body's ``operationName``, else the ``x-graphql-operation-name``
header, else the name after ``query``/``mutation`` at the start of a line of the document) and
is dispatched by that name; each answers the full object Stigg's SDK documents select:

- ``GetEntitlementsState`` (``entitlementsState``: both lists, ``render``), the current read;
- ``GetEntitlements`` (``entitlements: cachedEntitlements(query:)``, the legacy list: empty
  for a customer without a state, as upstream) and ``GetEntitlement`` (one feature, with
  ``options.requestedUsage`` applied), the legacy reads;
- ``GetSdkConfiguration`` (``sdkConfiguration``), which Stigg's SDKs load at start-up;
- ``ReportUsage``, ``ReportUsageBulk`` and ``ReportEvent`` (whose result is the nullable
  ``String`` of Stigg's schema: ``null``).

Variables are checked as GraphQL would coerce them (required fields, types, no unknown input
fields) into ``state.UsageReport`` and ``state.UsageEvent`` values. ``ReportEvent`` takes its
events in ``usageEvents`` (Stigg's field) or ``events``.

``parse_request`` turns a body into a ``Call`` (or the ``InputError`` it is answered with);
``execute`` resolves a call into the response's ``data``, raising ``InputError`` for a request
Apollo would answer ``400`` (malformed, unknown operation, bad variables; the message names the
variable's path, e.g. ``variables.input.usages[1].value``) and letting ``state.UpstreamError``
through for a refusal by the resolver (``200``). ``customers_named`` reads the customer ids a
request concerns leniently, for the request counters, which count even invalid requests.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from stigg_emulator import state

OPERATIONS = (
    "GetEntitlementsState",
    "GetEntitlements",
    "GetEntitlement",
    "GetSdkConfiguration",
    "ReportUsage",
    "ReportUsageBulk",
    "ReportEvent",
)
SDK_CONFIGURATION = {"sentryDsn": None, "isWidgetWatermarkEnabled": False, "showWatermark": False}
WRITE_OPERATIONS = frozenset({"ReportUsage", "ReportUsageBulk", "ReportEvent"})
OPERATION_HEADER = "x-graphql-operation-name"

_OPERATION_IN_DOCUMENT = re.compile(r"^\s*(?:query|mutation)\s+([_A-Za-z][_0-9A-Za-z]*)", re.MULTILINE)


@dataclasses.dataclass(frozen=True)
class Call:
    """A request's operation name (None if it names none) and its variables."""

    operation: str | None
    variables: Mapping[str, object]


class InputError(Exception):
    """Bad variables or a malformed request: a 400 with ``code``, the message naming the field."""

    def __init__(self, message: str, code: str = "BadUserInput") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def parse_request(body: bytes, header: str | None) -> Call | InputError:
    """The operation and variables of a request body; ``header`` is its operation-name header."""
    try:
        document = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return InputError("the request body is not valid JSON", "BAD_REQUEST")
    if not isinstance(document, dict):
        return InputError("the request body must be a JSON object (batches are not served)", "BAD_REQUEST")
    operation = document.get("operationName")
    if not isinstance(operation, str) or not operation:
        operation = header or None
    query = document.get("query")
    if operation is None and isinstance(query, str):
        match = _OPERATION_IN_DOCUMENT.search(query)
        operation = match.group(1) if match else None
    variables = document.get("variables")
    if variables is None:
        variables = {}
    if not isinstance(variables, dict):
        return InputError("variables: expected a JSON object")
    return Call(operation, variables)


def customers_named(call: Call) -> Iterator[str]:
    """The customer ids a request concerns, read leniently (for the counters only)."""

    def customer_of(item: object) -> Iterator[str]:
        if isinstance(item, dict) and isinstance(item.get("customerId"), str):
            yield item["customerId"]

    operation, variables = call.operation, call.variables
    if operation in ("GetEntitlementsState", "GetEntitlements", "GetEntitlement"):
        yield from customer_of(variables.get("query"))
        return
    given = variables.get("input")
    if operation == "ReportUsage":
        yield from customer_of(given)
    elif operation in ("ReportUsageBulk", "ReportEvent") and isinstance(given, dict):
        for field in ("usages",) if operation == "ReportUsageBulk" else ("usageEvents", "events"):
            items = given.get(field)
            for item in items if isinstance(items, list) else ():
                yield from customer_of(item)


def execute(emulator: state.EmulatorState, call: Call) -> dict[str, Any]:
    """The response's ``data``; ``InputError`` for a 400, ``state.UpstreamError`` for a refusal."""
    if call.operation is None:
        raise InputError(
            f"no operation name: set operationName or the {OPERATION_HEADER} header",
            "GRAPHQL_VALIDATION_FAILED",
        )
    resolver = _RESOLVERS.get(call.operation)
    if resolver is None:
        raise InputError(
            f"operation '{call.operation}' is not served by the emulator (it serves {', '.join(OPERATIONS)})",
            "GRAPHQL_VALIDATION_FAILED",
        )
    return resolver(emulator, call.variables)


def _resolve_entitlements_state(
    emulator: state.EmulatorState, variables: Mapping[str, object]
) -> dict[str, Any]:
    path = "variables.query"
    query = _input_fields(variables.get("query"), path, {"customerId", "resourceId", "environmentId"})
    customer_id = _string_field(query, "customerId", path)
    resource_id = _optional_string_field(query, "resourceId", path)
    return {"entitlementsState": emulator.entitlements_state(customer_id, resource_id)}


def _resolve_entitlements(emulator: state.EmulatorState, variables: Mapping[str, object]) -> dict[str, Any]:
    path = "variables.query"
    query = _input_fields(variables.get("query"), path, {"customerId", "resourceId", "environmentId"})
    customer_id = _string_field(query, "customerId", path)
    resource_id = _optional_string_field(query, "resourceId", path)
    return {"entitlements": emulator.entitlements_state(customer_id, resource_id)["entitlements"]}


def _resolve_entitlement(emulator: state.EmulatorState, variables: Mapping[str, object]) -> dict[str, Any]:
    path = "variables.query"
    query = _input_fields(
        variables.get("query"), path, {"customerId", "resourceId", "featureId", "options", "environmentId"}
    )
    options = query.get("options")
    requested: float | None = None
    if options is not None:
        given = _input_fields(
            options, f"{path}.options", {"requestedUsage", "requestedValues", "shouldTrack"}
        )
        raw = given.get("requestedUsage")
        if raw is not None:
            if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
                raise InputError(f"{path}.options.requestedUsage: expected a finite number, got {shown(raw)}")
            requested = float(raw)
    return {
        "entitlement": emulator.entitlement(
            _string_field(query, "customerId", path),
            _optional_string_field(query, "resourceId", path),
            _string_field(query, "featureId", path),
            requested_usage=requested,
        )
    }


def _resolve_sdk_configuration(
    emulator: state.EmulatorState, variables: Mapping[str, object]
) -> dict[str, Any]:
    return {"sdkConfiguration": dict(SDK_CONFIGURATION)}


def _resolve_report_usage(emulator: state.EmulatorState, variables: Mapping[str, object]) -> dict[str, Any]:
    report = usage_report(variables.get("input"), "variables.input")
    return {"reportUsage": emulator.report_usage(report)}


def _resolve_report_usage_bulk(
    emulator: state.EmulatorState, variables: Mapping[str, object]
) -> dict[str, Any]:
    given = _input_fields(variables.get("input"), "variables.input", {"usages", "environmentId"})
    items = _input_list(given.get("usages"), "variables.input.usages")
    reports = [usage_report(item, f"variables.input.usages[{index}]") for index, item in enumerate(items)]
    return {"reportUsageBulk": emulator.report_usage_bulk(reports)}


def _resolve_report_event(emulator: state.EmulatorState, variables: Mapping[str, object]) -> dict[str, Any]:
    given = _input_fields(
        variables.get("input"), "variables.input", {"usageEvents", "events", "environmentId"}
    )
    field = "usageEvents" if "usageEvents" in given else "events"
    path = f"variables.input.{field}"
    events = [
        usage_event(item, f"{path}[{index}]")
        for index, item in enumerate(_input_list(given.get(field), path))
    ]
    emulator.report_events(events)
    return {"reportEvent": None}  # a nullable String in Stigg's schema


_RESOLVERS: dict[str, Callable[[state.EmulatorState, Mapping[str, object]], dict[str, Any]]] = {
    "GetEntitlementsState": _resolve_entitlements_state,
    "GetEntitlements": _resolve_entitlements,
    "GetEntitlement": _resolve_entitlement,
    "GetSdkConfiguration": _resolve_sdk_configuration,
    "ReportUsage": _resolve_report_usage,
    "ReportUsageBulk": _resolve_report_usage_bulk,
    "ReportEvent": _resolve_report_event,
}

_USAGE_FIELDS = frozenset(
    {
        "customerId",
        "featureId",
        "value",
        "updateBehavior",
        "idempotencyKey",
        "dimensions",
        "resourceId",
        "createdAt",
        "environmentId",
    }
)
_EVENT_FIELDS = frozenset(
    {"eventName", "customerId", "idempotencyKey", "resourceId", "dimensions", "timestamp"}
)


def usage_report(raw: object, path: str) -> state.UsageReport:
    """A ``UsageMeasurementCreateInput`` (at ``path``) as a usage report."""
    given = _input_fields(raw, path, _USAGE_FIELDS)
    value = given.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(f"{path}.value: expected a finite number, got {shown(value)}")
    behavior = given.get("updateBehavior")
    if behavior is None:
        behavior = state.UpdateBehavior.DELTA.value
    if behavior not in ("DELTA", "SET"):
        raise InputError(f"{path}.updateBehavior: expected DELTA or SET, got {shown(behavior)}")
    return state.UsageReport(
        customer_id=_string_field(given, "customerId", path),
        feature_id=_string_field(given, "featureId", path),
        value=float(value),
        update_behavior=state.UpdateBehavior(behavior),
        resource_id=_optional_string_field(given, "resourceId", path),
        idempotency_key=_optional_string_field(given, "idempotencyKey", path),
        dimensions=_dimensions(given.get("dimensions"), f"{path}.dimensions"),
        created_at=_timestamp(given.get("createdAt"), f"{path}.createdAt"),
    )


def usage_event(raw: object, path: str) -> state.UsageEvent:
    """A ``UsageEventsReportInput`` event (at ``path``) as a usage event."""
    given = _input_fields(raw, path, _EVENT_FIELDS)
    return state.UsageEvent(
        event_name=_string_field(given, "eventName", path),
        customer_id=_string_field(given, "customerId", path),
        idempotency_key=_string_field(given, "idempotencyKey", path),
        resource_id=_optional_string_field(given, "resourceId", path),
        dimensions=_dimensions(given.get("dimensions"), f"{path}.dimensions"),
        timestamp=_timestamp(given.get("timestamp"), f"{path}.timestamp"),
    )


# -- variable readers: each error names the variable's path; values are shown as JSON -------


def shown(value: object) -> str:
    """A value as an error message shows it: its JSON, cut at 40 characters (admin errors too)."""
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _input_object(raw: object, path: str) -> Mapping[str, object]:
    if not isinstance(raw, dict):
        raise InputError(f"{path}: expected an object, got {shown(raw)}")
    return raw


def _input_fields(raw: object, path: str, allowed: frozenset[str] | set[str]) -> Mapping[str, object]:
    """An input object with no fields but ``allowed``."""
    given = _input_object(raw, path)
    for key in given:
        if key not in allowed:
            raise InputError(f"{path}.{key}: unknown field")
    return given


def _input_list(raw: object, path: str) -> list[object]:
    if not isinstance(raw, list):
        raise InputError(f"{path}: expected a list, got {shown(raw)}")
    return raw


def _string_field(given: Mapping[str, object], key: str, path: str) -> str:
    value = given.get(key)
    if not isinstance(value, str) or not value:
        raise InputError(f"{path}.{key}: expected a non-empty string, got {shown(value)}")
    return value


def _optional_string_field(given: Mapping[str, object], key: str, path: str) -> str | None:
    return None if given.get(key) is None else _string_field(given, key, path)


def _dimensions(raw: object, path: str) -> Mapping[str, object] | None:
    if raw is None:
        return None
    given = _input_object(raw, path)
    for key, value in given.items():
        if value is not None and not isinstance(value, str | int | float | bool):
            raise InputError(f"{path}.{key}: expected a string, number or boolean, got {shown(value)}")
    return dict(given)


def _timestamp(raw: object, path: str) -> datetime.datetime | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        try:
            moment = datetime.datetime.fromisoformat(raw)
        except ValueError:
            pass
        else:
            return moment if moment.tzinfo is not None else moment.replace(tzinfo=datetime.UTC)
    raise InputError(f"{path}: expected an ISO-8601 date-time, got {shown(raw)}")
