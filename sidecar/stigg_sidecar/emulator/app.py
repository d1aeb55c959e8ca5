"""The upstream emulator's HTTP application (aiohttp): Stigg's Edge and GraphQL endpoints,
served from ``state``, plus admin endpoints that tests and the demo use to steer it.

Product endpoints (``X-API-KEY`` required; counted, then subject to ``faults``):

    GET  /v1/c/{customerId}/entitlements-state.json[?resourceId=R]   the Edge API
    GET  /v1/c/{customerId}/entitlements.json[?resourceId=R]         its legacy path, same answer
    POST /graphql                                                    four GraphQL operations
    GET  /graphql (WebSocket, graphql-transport-ws)                  the real-time stream (``stream``)

The Edge answer is ``{"data":{"entitlementsState":{"entitlements":[...],"accessDeniedReason":
null}}}``; an unknown, archived or unsubscribed customer, or an unknown resource, is still a
``200`` with no entitlements and the reason (``CustomerNotFound``, ``CustomerIsArchived``,
``NoActiveSubscription``, ``CustomerResourceNotFound``).

``/graphql`` is **not** a GraphQL server: there is no parser and no selection of fields. A
request names its operation (the body's ``operationName``, else the
``x-graphql-operation-name`` header, else the name after ``query``/``mutation`` at the start
of a line of the document) and is dispatched by that name to one of ``GetEntitlementsState``,
``ReportUsage``, ``ReportUsageBulk`` and ``ReportEvent``; each answers the full object Stigg's
SDK documents select. Variables are checked as GraphQL would coerce them (required fields,
types, no unknown input fields). As with Apollo, malformed requests and bad variables are
answered ``400`` and refusals by the resolver (unknown customer, feature or resource) ``200``,
both as ``{"errors":[{"message":...,"extensions":{"code":...}}]}`` with Stigg's error codes.
``ReportEvent`` takes its events in ``usageEvents`` (Stigg's field) or ``events``.

Every product request is counted on arrival; then an outage answers ``503``, latency is
waited, an error draw answers ``500``; then a missing or wrong ``X-API-KEY`` answers ``401``.
The key is compared in constant time and never logged, echoed or put in an error. A stream
connection is counted (``stream:graphql``) and faulted the same way before its upgrade, and
takes its key in ``connection_init`` instead; starting an outage drops every stream connection.

Admin endpoints (no key, no faults, not counted; JSON in and out, ``400`` naming the field
on invalid input):

    GET  /_emulator/healthz              {"status":"UP"}
    GET  /_emulator/requests             counters; POST /_emulator/requests/reset zeroes them
    GET  /_emulator/faults               PUT it with any of {latencyMs, jitterMs, errorRate, outage,
                                         writeOutage, seed}
    PUT  /_emulator/customers/{id}       create or replace a customer (a catalog entry's fields)
    DELETE /_emulator/customers/{id}
    GET  /_emulator/usage/{customerId}   current usage, own and per resource
    GET  /_emulator/events               events reported through ReportEvent
    POST /_emulator/catalog/reload       re-read the catalog file (customers and usage reset)
    POST /_emulator/reset                back to the state at start (also counters, events, faults)
                                         (stream connections stay open; the changes are published)
    GET  /_emulator/stream               stream connections, subscriptions and events published
    POST /_emulator/stream/drop          close every stream connection (clients must reconnect)

Changes made through the admin endpoints are published on the stream like any other change.
"""

from __future__ import annotations

import dataclasses
import datetime
import hmac
import json
import logging
import math
import re
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any

from aiohttp import web

from stigg_sidecar.emulator import catalog, faults, loading, state, stream

logger = logging.getLogger(__name__)

STATE = web.AppKey("emulator_state", state.EmulatorState)
API_KEY = web.AppKey("emulator_api_key", str)
HUB = web.AppKey("emulator_stream_hub", stream.Hub)

OPERATIONS = ("GetEntitlementsState", "ReportUsage", "ReportUsageBulk", "ReportEvent")
_WRITE_ENDPOINTS = frozenset({"graphql:ReportUsage", "graphql:ReportUsageBulk", "graphql:ReportEvent"})
OPERATION_HEADER = "x-graphql-operation-name"
API_KEY_HEADER = "X-API-KEY"

_EDGE_PREFIX = "edge:"
_GRAPHQL_ROUTE = "graphql"
STREAM_ENDPOINT = "stream:graphql"
_CALL = "emulator.graphql_call"  # the parsed GraphQL request, kept on the aiohttp request
_OPERATION_IN_DOCUMENT = re.compile(r"^\s*(?:query|mutation)\s+([_A-Za-z][_0-9A-Za-z]*)", re.MULTILINE)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def create_app(emulator: state.EmulatorState, *, api_key: str) -> web.Application:
    app = web.Application(middlewares=[_product_gate])
    app[STATE] = emulator
    app[API_KEY] = api_key
    hub = app[HUB] = stream.Hub()
    emulator.publish = hub.publish
    app.on_shutdown.append(_drop_streams)
    router = app.router
    router.add_get("/v1/c/{customerId}/entitlements-state.json", _edge, name="edge:entitlements-state")
    router.add_get("/v1/c/{customerId}/entitlements.json", _edge, name="edge:entitlements")
    router.add_post("/graphql", _graphql, name=_GRAPHQL_ROUTE)
    router.add_get("/graphql", _stream)
    router.add_get("/_emulator/healthz", _healthz)
    router.add_get("/_emulator/requests", _get_requests)
    router.add_post("/_emulator/requests/reset", _reset_requests)
    router.add_get("/_emulator/faults", _get_faults)
    router.add_put("/_emulator/faults", _put_faults)
    router.add_put("/_emulator/customers/{customerId}", _put_customer)
    router.add_delete("/_emulator/customers/{customerId}", _delete_customer)
    router.add_get("/_emulator/usage/{customerId}", _get_usage)
    router.add_get("/_emulator/events", _get_events)
    router.add_post("/_emulator/catalog/reload", _reload_catalog)
    router.add_post("/_emulator/reset", _reset)
    router.add_get("/_emulator/stream", _get_stream)
    router.add_post("/_emulator/stream/drop", _drop_stream)
    return app


async def _drop_streams(app: web.Application) -> None:
    await app[HUB].close_all("the emulator is shutting down")


# -- the gate in front of product endpoints: counters, faults, API key ---------------------


@web.middleware
async def _product_gate(request: web.Request, handler: Handler) -> web.StreamResponse:
    route = request.match_info.route.name
    if route is None or not (route.startswith(_EDGE_PREFIX) or route == _GRAPHQL_ROUTE):
        return await handler(request)
    emulator = request.app[STATE]
    if route == _GRAPHQL_ROUTE:
        call = await _graphql_call(request)
        operation = call.operation if isinstance(call, _Call) else None
        endpoint = f"graphql:{operation}" if operation in OPERATIONS else "graphql:unknown"
        customers = list(_customers_named(operation, call.variables)) if isinstance(call, _Call) else []
    else:
        endpoint, customers = route, [request.match_info["customerId"]]
    emulator.counters.record(endpoint, customers)
    write = endpoint in _WRITE_ENDPOINTS
    try:
        response = await _faulted_or_authorized(request, handler, emulator, write=write)
    except web.HTTPException as exc:
        emulator.counters.record_status(exc.status)
        raise
    except Exception:
        emulator.counters.record_status(500)
        raise
    emulator.counters.record_status(response.status)
    return response


async def _faulted_or_authorized(
    request: web.Request, handler: Handler, emulator: state.EmulatorState, *, write: bool
) -> web.StreamResponse:
    failure = await emulator.faults.apply(write=write)
    if failure == faults.OUTAGE_STATUS:
        return _errors(failure, "the upstream is unavailable (emulated outage)", "ServiceUnavailable")
    if failure is not None:
        return _errors(failure, "internal server error (emulated)", "UnexpectedError")
    given = request.headers.get(API_KEY_HEADER, "")
    if not hmac.compare_digest(given.encode(), request.app[API_KEY].encode()):
        return _errors(401, "missing or invalid X-API-KEY", "Unauthenticated")
    return await handler(request)


def _errors(status: int, message: str, code: str) -> web.Response:
    return web.json_response({"errors": [{"message": message, "extensions": {"code": code}}]}, status=status)


# -- the real-time stream -------------------------------------------------------------------


async def _stream(request: web.Request) -> web.StreamResponse:
    emulator = request.app[STATE]
    emulator.counters.record(STREAM_ENDPOINT, ())
    failure = await emulator.faults.apply()
    if failure is not None:
        emulator.counters.record_status(failure)
        return _errors(failure, "the upstream is unavailable (emulated)", "ServiceUnavailable")
    emulator.counters.record_status(101)
    return await stream.serve(request, request.app[HUB], request.app[API_KEY])


# -- the Edge API ---------------------------------------------------------------------------


async def _edge(request: web.Request) -> web.Response:
    customer_id = request.match_info["customerId"]
    resource_id = request.query.get("resourceId") or None
    entitlements_state = request.app[STATE].entitlements_state(customer_id, resource_id)
    return web.json_response({"data": {"entitlementsState": entitlements_state}})


# -- GraphQL: dispatch by operation name ----------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Call:
    operation: str | None
    variables: Mapping[str, object]


class _InputError(Exception):
    """Bad variables or a malformed request: a 400 with ``code``, the message naming the field."""

    def __init__(self, message: str, code: str = "BadUserInput") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


async def _graphql_call(request: web.Request) -> _Call | _InputError:
    """The request's operation name and variables, parsed once (the gate and handler share it)."""
    cached: _Call | _InputError | None = request.get(_CALL)
    if cached is not None:
        return cached
    parsed: _Call | _InputError
    try:
        body = json.loads(await request.read())
    except (json.JSONDecodeError, UnicodeDecodeError):
        parsed = _InputError("the request body is not valid JSON", "BAD_REQUEST")
    else:
        if not isinstance(body, dict):
            parsed = _InputError(
                "the request body must be a JSON object (batches are not served)", "BAD_REQUEST"
            )
        else:
            parsed = _call_from(body, request.headers.get(OPERATION_HEADER))
    request[_CALL] = parsed
    return parsed


def _call_from(body: Mapping[str, object], header: str | None) -> _Call | _InputError:
    operation = body.get("operationName")
    if not isinstance(operation, str) or not operation:
        operation = header or None
    document = body.get("query")
    if operation is None and isinstance(document, str):
        match = _OPERATION_IN_DOCUMENT.search(document)
        operation = match.group(1) if match else None
    variables = body.get("variables")
    if variables is None:
        variables = {}
    if not isinstance(variables, dict):
        return _InputError("variables: expected a JSON object")
    return _Call(operation, variables)


def _customers_named(operation: str | None, variables: Mapping[str, object]) -> Iterator[str]:
    """The customer ids a request concerns, read leniently (for the counters only)."""

    def customer_of(item: object) -> Iterator[str]:
        if isinstance(item, dict) and isinstance(item.get("customerId"), str):
            yield item["customerId"]

    if operation == "GetEntitlementsState":
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


async def _graphql(request: web.Request) -> web.Response:
    call = await _graphql_call(request)
    emulator = request.app[STATE]
    try:
        if isinstance(call, _InputError):
            raise call
        if call.operation is None:
            raise _InputError(
                f"no operation name: set operationName or the {OPERATION_HEADER} header",
                "GRAPHQL_VALIDATION_FAILED",
            )
        resolver = _RESOLVERS.get(call.operation)
        if resolver is None:
            raise _InputError(
                f"operation '{call.operation}' is not served by the emulator "
                f"(it serves {', '.join(OPERATIONS)})",
                "GRAPHQL_VALIDATION_FAILED",
            )
        data = resolver(emulator, call.variables)
    except _InputError as exc:
        return _errors(400, exc.message, exc.code)
    except state.UpstreamError as exc:
        return _errors(200, exc.message, exc.code)
    return web.json_response({"data": data})


def _resolve_entitlements_state(
    emulator: state.EmulatorState, variables: Mapping[str, object]
) -> dict[str, Any]:
    query = _object(variables.get("query"), "variables.query")
    _only(query, "variables.query", {"customerId", "resourceId", "environmentId"})
    customer_id = _string(query, "customerId", "variables.query")
    resource_id = _optional_string(query, "resourceId", "variables.query")
    return {"entitlementsState": emulator.entitlements_state(customer_id, resource_id)}


def _resolve_report_usage(emulator: state.EmulatorState, variables: Mapping[str, object]) -> dict[str, Any]:
    report = _usage_report(variables.get("input"), "variables.input")
    return {"reportUsage": emulator.report_usage(report)}


def _resolve_report_usage_bulk(
    emulator: state.EmulatorState, variables: Mapping[str, object]
) -> dict[str, Any]:
    given = _object(variables.get("input"), "variables.input")
    _only(given, "variables.input", {"usages", "environmentId"})
    items = _list(given.get("usages"), "variables.input.usages")
    reports = [_usage_report(item, f"variables.input.usages[{index}]") for index, item in enumerate(items)]
    return {"reportUsageBulk": emulator.report_usage_bulk(reports)}


def _resolve_report_event(emulator: state.EmulatorState, variables: Mapping[str, object]) -> dict[str, Any]:
    given = _object(variables.get("input"), "variables.input")
    _only(given, "variables.input", {"usageEvents", "events", "environmentId"})
    field = "usageEvents" if "usageEvents" in given else "events"
    path = f"variables.input.{field}"
    events = [
        _usage_event(item, f"{path}[{index}]") for index, item in enumerate(_list(given.get(field), path))
    ]
    emulator.report_events(events)
    return {"reportEvent": True}


_RESOLVERS: dict[str, Callable[[state.EmulatorState, Mapping[str, object]], dict[str, Any]]] = {
    "GetEntitlementsState": _resolve_entitlements_state,
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


def _usage_report(raw: object, path: str) -> state.UsageReport:
    given = _object(raw, path)
    _only(given, path, _USAGE_FIELDS)
    value = given.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _InputError(f"{path}.value: expected a finite number, got {_shown(value)}")
    behavior = given.get("updateBehavior")
    if behavior is None:
        behavior = state.UpdateBehavior.DELTA.value
    if behavior not in ("DELTA", "SET"):
        raise _InputError(f"{path}.updateBehavior: expected DELTA or SET, got {_shown(behavior)}")
    return state.UsageReport(
        customer_id=_string(given, "customerId", path),
        feature_id=_string(given, "featureId", path),
        value=float(value),
        update_behavior=state.UpdateBehavior(behavior),
        resource_id=_optional_string(given, "resourceId", path),
        idempotency_key=_optional_string(given, "idempotencyKey", path),
        dimensions=_dimensions(given.get("dimensions"), f"{path}.dimensions"),
        created_at=_timestamp(given.get("createdAt"), f"{path}.createdAt"),
    )


def _usage_event(raw: object, path: str) -> state.UsageEvent:
    given = _object(raw, path)
    _only(given, path, _EVENT_FIELDS)
    return state.UsageEvent(
        event_name=_string(given, "eventName", path),
        customer_id=_string(given, "customerId", path),
        idempotency_key=_string(given, "idempotencyKey", path),
        resource_id=_optional_string(given, "resourceId", path),
        dimensions=_dimensions(given.get("dimensions"), f"{path}.dimensions"),
        timestamp=_timestamp(given.get("timestamp"), f"{path}.timestamp"),
    )


# -- variable readers: each error names the variable's path --------------------------------


def _shown(value: object) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _object(raw: object, path: str) -> Mapping[str, object]:
    if not isinstance(raw, dict):
        raise _InputError(f"{path}: expected an object, got {_shown(raw)}")
    return raw


def _list(raw: object, path: str) -> list[object]:
    if not isinstance(raw, list):
        raise _InputError(f"{path}: expected a list, got {_shown(raw)}")
    return raw


def _only(given: Mapping[str, object], path: str, allowed: frozenset[str] | set[str]) -> None:
    for key in given:
        if key not in allowed:
            raise _InputError(f"{path}.{key}: unknown field")


def _string(given: Mapping[str, object], key: str, path: str) -> str:
    value = given.get(key)
    if not isinstance(value, str) or not value:
        raise _InputError(f"{path}.{key}: expected a non-empty string, got {_shown(value)}")
    return value


def _optional_string(given: Mapping[str, object], key: str, path: str) -> str | None:
    return None if given.get(key) is None else _string(given, key, path)


def _dimensions(raw: object, path: str) -> Mapping[str, object] | None:
    if raw is None:
        return None
    given = _object(raw, path)
    for key, value in given.items():
        if value is not None and not isinstance(value, str | int | float | bool):
            raise _InputError(f"{path}.{key}: expected a string, number or boolean, got {_shown(value)}")
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
    raise _InputError(f"{path}: expected an ISO-8601 date-time, got {_shown(raw)}")


# -- admin endpoints -------------------------------------------------------------------------


def _bad_request(message: str) -> web.Response:
    return web.json_response({"error": message}, status=400)


async def _json_object(request: web.Request) -> Mapping[str, object] | web.Response:
    try:
        body = json.loads(await request.read())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return _bad_request("body: not valid JSON")
    if not isinstance(body, dict):
        return _bad_request("body: expected a JSON object")
    return body


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "UP"})


async def _get_requests(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATE].counters.as_json())


async def _reset_requests(request: web.Request) -> web.Response:
    counters = request.app[STATE].counters
    counters.reset()
    return web.json_response(counters.as_json())


async def _get_faults(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATE].faults.settings.as_json())


async def _put_faults(request: web.Request) -> web.Response:
    body = await _json_object(request)
    if isinstance(body, web.Response):
        return body
    for key in body:
        if key not in faults.JSON_FIELDS and key != "seed":
            return _bad_request(
                f"{key}: unknown field (expected latencyMs, jitterMs, errorRate, outage, writeOutage or seed)"
            )
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        return _bad_request(f"seed: must be an integer, got {_shown(seed)}")
    current = request.app[STATE].faults
    try:
        settings = current.settings.updated(body)
    except faults.FaultSettingsError as exc:
        return _bad_request(str(exc))
    outage_starts = settings.outage and not current.settings.outage
    current.settings = settings
    if "seed" in body:
        current.reseed(seed)
    if outage_starts:
        await request.app[HUB].close_all("emulated outage")
    logger.info("fault settings now %s", settings.as_json())
    return web.json_response(settings.as_json())


async def _put_customer(request: web.Request) -> web.Response:
    body = await _json_object(request)
    if isinstance(body, web.Response):
        return body
    emulator = request.app[STATE]
    customer_id = request.match_info["customerId"]
    try:
        customer = loading.parse_customer(body, emulator.catalog, customer_id=customer_id)
    except loading.CatalogError as exc:
        return _bad_request(str(exc))
    created = emulator.put_customer(customer)
    logger.info("customer %r %s", customer_id, "created" if created else "replaced")
    return web.json_response(
        {"customerId": customer_id, "entitlementsState": emulator.entitlements_state(customer_id, None)},
        status=201 if created else 200,
    )


async def _delete_customer(request: web.Request) -> web.Response:
    customer_id = request.match_info["customerId"]
    if not request.app[STATE].delete_customer(customer_id):
        return web.json_response({"error": f"customer '{customer_id}' was not found"}, status=404)
    logger.info("customer %r deleted", customer_id)
    return web.Response(status=204)


async def _get_usage(request: web.Request) -> web.Response:
    customer_id = request.match_info["customerId"]
    usage = request.app[STATE].usage_of(customer_id)
    if usage is None:
        return web.json_response({"error": f"customer '{customer_id}' was not found"}, status=404)
    return web.json_response(usage)


async def _get_events(request: web.Request) -> web.Response:
    return web.json_response({"events": [event.as_json() for event in request.app[STATE].events]})


async def _reload_catalog(request: web.Request) -> web.Response:
    try:
        loaded = request.app[STATE].reload()
    except loading.CatalogError as exc:
        return _bad_request(str(exc))
    logger.info("catalog reloaded")
    return web.json_response(_catalog_summary(loaded))


async def _reset(request: web.Request) -> web.Response:
    emulator = request.app[STATE]
    try:
        emulator.reset()
    except loading.CatalogError as exc:
        return _bad_request(str(exc))
    request.app[HUB].reset_counts()
    return web.json_response(_catalog_summary(emulator.catalog))


async def _get_stream(request: web.Request) -> web.Response:
    return web.json_response(request.app[HUB].as_json())


async def _drop_stream(request: web.Request) -> web.Response:
    dropped = await request.app[HUB].close_all("dropped by the emulator's admin endpoint")
    logger.info("dropped %d stream connections", dropped)
    return web.json_response({"dropped": dropped})


def _catalog_summary(loaded: catalog.Catalog) -> dict[str, Any]:
    return {
        "features": list(loaded.features),
        "plans": list(loaded.plans),
        "customers": list(loaded.customers),
    }
