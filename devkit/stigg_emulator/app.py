"""The upstream emulator's HTTP adapter (aiohttp): Stigg's Edge and GraphQL endpoints, served
from ``state``, plus admin endpoints that tests and the demo use to steer it.

Product endpoints (``X-API-KEY`` required; counted, then subject to ``faults``):

    GET  /v1/c/{customerId}/entitlements-state.json[?resourceId=R]   the Edge API
    GET  /v1/c/{customerId}/entitlements.json[?resourceId=R][&featureId=F[&requestedUsage=N]]
                                                                     its legacy path
    GET  /v1/config/server-sdk-configuration.json                    the SDKs' start-up configuration
    POST /graphql                                                    the GraphQL operations (``graphql``)
    GET  /graphql (WebSocket, graphql-transport-ws)                  the real-time stream (``stream``)

The Edge answers are GraphQL-shaped, as Stigg's: ``entitlements-state.json`` answers
``{"data":{"entitlementsState":{"__typename":"EntitlementsState","entitlements":[...],
"entitlementsV2":[...],"accessDeniedReason":null}}}`` (``render``); an unknown, archived or
unsubscribed customer is still a ``200``, with empty lists and the reason (``CustomerNotFound``,
``CustomerIsArchived``, ``NoActiveSubscription``), and an unknown resource lists every feature
denied ``CustomerResourceNotFound``. The legacy ``entitlements.json`` answers
``{"data":{"entitlements":[...]}}`` (the legacy list, as ``GetEntitlements``; empty for a
customer without a state), or with ``featureId`` ``{"data":{"entitlement":{...}}}`` (as
``GetEntitlement``). ``server-sdk-configuration.json`` answers ``{"data":{"sdkConfiguration":
{...}}}``, as ``GetSdkConfiguration``; Stigg's Node SDK will not start without it.

``POST /graphql`` is dispatched by operation name, without a GraphQL parser (``graphql``
names the operation, coerces the variables and resolves them against ``state``). As with
Apollo, malformed requests and bad variables are answered ``400`` and refusals by the resolver
(unknown customer, feature or resource) ``200``, both as ``{"errors":[{"message":...,
"extensions":{"code":...}}]}`` with Stigg's error codes.

The handlers here are thin: they read the request, call ``graphql``, ``state``, ``loading``,
``faults`` or ``stream``, and write the response; the logic is in those modules.

Every product request is counted on arrival; then an outage answers ``503``, latency is
waited, an error draw answers ``500``; then a missing or wrong ``X-API-KEY`` answers ``401``.
The key is compared in constant time and never logged, echoed or put in an error. A stream
connection is counted (``stream:graphql``) and faulted the same way before its upgrade, and
takes its key in ``connection_init`` instead; starting an outage drops every stream connection.

Admin endpoints (no key, no faults, not counted; JSON in and out, ``400`` naming the field
on invalid input):

    GET  /_emulator/healthz              {"status":"UP"}
    GET  /_emulator/requests             counters; POST /_emulator/requests/reset zeroes them
    GET  /_emulator/requests/arrivals    {"arrivals": [epoch seconds, ...], "forgotten": N}: when
                                         the last requests arrived, in order (``?endpoint=`` one
                                         endpoint's, e.g. edge:entitlements-state; ``?since=T``)
    GET  /_emulator/faults               PUT it with any of {latencyMs, jitterMs, errorRate, outage,
                                         writeOutage, legacyOnly, seed} (``faults``)
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

import hmac
import json
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from stigg_emulator import catalog, faults, graphql, loading, state, stream

logger = logging.getLogger(__name__)

STATE = web.AppKey("emulator_state", state.EmulatorState)
API_KEY = web.AppKey("emulator_api_key", str)
HUB = web.AppKey("emulator_stream_hub", stream.Hub)

API_KEY_HEADER = "X-API-KEY"

_EDGE_PREFIX = "edge:"
_GRAPHQL_ROUTE = "graphql"
STREAM_ENDPOINT = "stream:graphql"
_CALL = "emulator.graphql_call"  # the parsed GraphQL request, kept on the aiohttp request

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def create_app(emulator: state.EmulatorState, *, api_key: str) -> web.Application:
    app = web.Application(middlewares=[_product_gate])
    app[STATE] = emulator
    app[API_KEY] = api_key
    hub = app[HUB] = stream.Hub(
        refused=lambda: stream.V2_FIELDS if emulator.faults.settings.legacy_only else ()
    )
    emulator.publish = hub.publish
    app.on_shutdown.append(_close_streams_on_shutdown)
    router = app.router
    router.add_get("/v1/c/{customerId}/entitlements-state.json", _edge, name="edge:entitlements-state")
    router.add_get("/v1/c/{customerId}/entitlements.json", _edge_legacy, name="edge:entitlements")
    router.add_get(
        "/v1/config/server-sdk-configuration.json", _sdk_configuration, name="edge:server-sdk-configuration"
    )
    router.add_post("/graphql", _graphql, name=_GRAPHQL_ROUTE)
    router.add_get("/graphql", _stream_upgrade)
    router.add_get("/_emulator/healthz", _healthz)
    router.add_get("/_emulator/requests", _get_requests)
    router.add_post("/_emulator/requests/reset", _reset_requests)
    router.add_get("/_emulator/requests/arrivals", _get_arrivals)
    router.add_get("/_emulator/faults", _get_faults)
    router.add_put("/_emulator/faults", _put_faults)
    router.add_put("/_emulator/customers/{customerId}", _put_customer)
    router.add_delete("/_emulator/customers/{customerId}", _delete_customer)
    router.add_get("/_emulator/usage/{customerId}", _get_usage)
    router.add_get("/_emulator/events", _get_events)
    router.add_post("/_emulator/catalog/reload", _reload_catalog)
    router.add_post("/_emulator/reset", _reset_emulator)
    router.add_get("/_emulator/stream", _get_stream)
    router.add_post("/_emulator/stream/drop", _drop_stream)
    return app


async def _close_streams_on_shutdown(app: web.Application) -> None:
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
        operation = call.operation if isinstance(call, graphql.Call) else None
        endpoint = f"graphql:{operation}" if operation in graphql.OPERATIONS else "graphql:unknown"
        customers = list(graphql.customers_named(call)) if isinstance(call, graphql.Call) else []
        write = operation in graphql.WRITE_OPERATIONS
    else:
        endpoint, write = route, False
        customers = [request.match_info["customerId"]] if "customerId" in request.match_info else []
    emulator.counters.record(endpoint, customers)
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


async def _stream_upgrade(request: web.Request) -> web.StreamResponse:
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


async def _edge_legacy(request: web.Request) -> web.Response:
    customer_id = request.match_info["customerId"]
    resource_id = request.query.get("resourceId") or None
    emulator = request.app[STATE]
    feature_id = request.query.get("featureId")
    if not feature_id:
        entitlements = emulator.entitlements_state(customer_id, resource_id)["entitlements"]
        return web.json_response({"data": {"entitlements": entitlements}})
    raw = request.query.get("requestedUsage")
    try:
        requested = float(raw) if raw else None
    except ValueError:
        requested = math.nan
    if requested is not None and not math.isfinite(requested):
        return _errors(
            400, f"requestedUsage: expected a finite number, got {graphql.shown(raw)}", "BadUserInput"
        )
    entitlement = emulator.entitlement(customer_id, resource_id, feature_id, requested_usage=requested)
    return web.json_response({"data": {"entitlement": entitlement}})


async def _sdk_configuration(request: web.Request) -> web.Response:
    return web.json_response({"data": {"sdkConfiguration": dict(graphql.SDK_CONFIGURATION)}})


# -- GraphQL: the request read once, then ``graphql`` executes it ----------------------------


async def _graphql_call(request: web.Request) -> graphql.Call | graphql.InputError:
    """The request's operation name and variables, parsed once (the gate and handler share it)."""
    cached: graphql.Call | graphql.InputError | None = request.get(_CALL)
    if cached is None:
        cached = request[_CALL] = graphql.parse_request(
            await request.read(), request.headers.get(graphql.OPERATION_HEADER)
        )
    return cached


async def _graphql(request: web.Request) -> web.Response:
    call = await _graphql_call(request)
    try:
        if isinstance(call, graphql.InputError):
            raise call
        data = graphql.execute(request.app[STATE], call)
    except graphql.InputError as exc:
        return _errors(400, exc.message, exc.code)
    except state.UpstreamError as exc:
        return _errors(200, exc.message, exc.code)
    return web.json_response({"data": data})


# -- admin endpoints -------------------------------------------------------------------------


def _bad_request(message: str) -> web.Response:
    return web.json_response({"error": message}, status=400)


def _customer_not_found(customer_id: str) -> web.Response:
    return web.json_response({"error": f"customer '{customer_id}' was not found"}, status=404)


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


async def _get_arrivals(request: web.Request) -> web.Response:
    raw = request.query.get("since")
    try:
        since = float(raw) if raw else -math.inf
    except ValueError:
        since = math.nan
    if math.isnan(since):
        return _bad_request(f"since: expected a number of seconds since the epoch, got {graphql.shown(raw)}")
    counters = request.app[STATE].counters
    arrivals = counters.arrivals(request.query.get("endpoint") or None, since)
    return web.json_response({"arrivals": arrivals, "forgotten": counters.forgotten})


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
                f"{key}: unknown field (expected latencyMs, jitterMs, errorRate, outage, writeOutage,"
                " legacyOnly or seed)"
            )
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        return _bad_request(f"seed: must be an integer, got {graphql.shown(seed)}")
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
        return _customer_not_found(customer_id)
    logger.info("customer %r deleted", customer_id)
    return web.Response(status=204)


async def _get_usage(request: web.Request) -> web.Response:
    customer_id = request.match_info["customerId"]
    usage = request.app[STATE].usage_of(customer_id)
    if usage is None:
        return _customer_not_found(customer_id)
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


async def _reset_emulator(request: web.Request) -> web.Response:
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
