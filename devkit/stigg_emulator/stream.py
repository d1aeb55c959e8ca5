"""The emulator's real-time stream: Stigg's GraphQL subscriptions over WebSocket.

``GET /graphql`` upgrades to a WebSocket speaking the ``graphql-transport-ws`` protocol
(the ``graphql-ws`` library's, which Stigg's SDKs use):

    client → connection_init {payload: {headers: {X-API-KEY}}}   (or the key at payload's top level)
    server → connection_ack
    client → subscribe {id, payload: {query, operationName?}}
    server → next {id, payload: {data: {<root field>: ...}}}         for every event
    client → complete {id}                                        ends that subscription
    either → ping / pong

Subscriptions take no arguments: each one receives its environment's whole stream, and the
client keeps what concerns it. Served, in both of Stigg's protocols (``state`` says what fires
them):

- current (Stigg's Node SDK 4.43 and later): ``entitlementsUpdatedV2`` (a customer's, or a
  resource's, ``entitlementsV2`` replaced, with the state's ``accessDeniedReason``),
  ``usageUpdatedV2`` (one feature's or credit currency's usage, by ``entitlementReference
  {type, id}``) and ``packagePublished`` (a plan changed);
- legacy (Node SDK 3.x): ``entitlementsUpdated`` (the legacy list), ``usageUpdated`` (one
  feature's usage, with its entitlement), ``packagePublished``, and ``creditBalanceUpdated``,
  which is accepted and never fires.

The operation is recognised by the root field named in the document (there is no GraphQL
parser here, as for ``POST /graphql``). A root field that is not served, or a V2 one while
``Hub.refused`` names it (the ``legacyOnly`` fault switch: a server that predates the V2
subscriptions), gets an ``error`` message (``GRAPHQL_VALIDATION_FAILED``, as a GraphQL server
answers a field its schema lacks) and the connection stays open.

Close codes are the protocol's: 4400 (malformed message), 4401 (subscribe before the ack),
4403 (missing or wrong API key), 4408 (no connection_init within ``INIT_TIMEOUT``), 4409 (a
subscription id in use), 4429 (a second connection_init). The key is compared in constant time
and never logged.

``Hub`` is the publisher: ``EmulatorState`` calls ``publish`` synchronously from its writes; each
connection has a bounded queue, and a connection too slow to keep up is closed (4500) rather
than letting the emulator's memory grow, as a real server would drop a stuck subscriber.
``close_all`` drops every connection (the admin endpoint ``POST /_emulator/stream/drop``, and an
emulated outage), so tests can exercise the client's reconnect and resync.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hmac
import json
import logging
import re
from collections.abc import Callable, Collection, Mapping
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

logger = logging.getLogger(__name__)

PROTOCOL = "graphql-transport-ws"
INIT_TIMEOUT = 10.0
QUEUE_LIMIT = 10_000

ENTITLEMENTS_UPDATED = "entitlementsUpdated"
USAGE_UPDATED = "usageUpdated"
ENTITLEMENTS_UPDATED_V2 = "entitlementsUpdatedV2"
USAGE_UPDATED_V2 = "usageUpdatedV2"
PACKAGE_PUBLISHED = "packagePublished"
CREDIT_BALANCE_UPDATED = "creditBalanceUpdated"  # accepted, never fires
V2_FIELDS = (ENTITLEMENTS_UPDATED_V2, USAGE_UPDATED_V2)
FIELDS = (
    ENTITLEMENTS_UPDATED_V2,
    USAGE_UPDATED_V2,
    PACKAGE_PUBLISHED,
    ENTITLEMENTS_UPDATED,
    USAGE_UPDATED,
    CREDIT_BALANCE_UPDATED,
)
_ROOT_FIELD = re.compile(r"\{\s*(" + "|".join(FIELDS) + r")\b")

_CLOSED = (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR)
CLOSE_BAD_MESSAGE = 4400
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_INIT_TIMEOUT = 4408
CLOSE_DUPLICATE_ID = 4409
CLOSE_TOO_MANY_INITS = 4429
CLOSE_TOO_SLOW = 4500


@dataclasses.dataclass(eq=False)
class Connection:
    """One WebSocket: its subscriptions (id → root field) and its outgoing event queue."""

    socket: web.WebSocketResponse
    subscriptions: dict[str, str] = dataclasses.field(default_factory=dict)
    queue: asyncio.Queue[tuple[str, dict[str, Any]]] = dataclasses.field(
        default_factory=lambda: asyncio.Queue(QUEUE_LIMIT)
    )


class Hub:
    """Fans published events out to every connected subscriber of their root field."""

    def __init__(self, refused: Callable[[], Collection[str]] = tuple) -> None:
        self.connections: set[Connection] = set()
        self.refused = refused  # the root fields new subscriptions are refused for, now
        self.reset_counts()

    def reset_counts(self) -> None:
        self.published: dict[str, int] = dict.fromkeys(FIELDS, 0)
        self.accepted = 0

    def publish(self, field: str, payload: dict[str, Any]) -> None:
        self.published[field] += 1
        for connection in list(self.connections):
            if field not in connection.subscriptions.values():
                continue
            try:
                connection.queue.put_nowait((field, payload))
            except asyncio.QueueFull:
                logger.warning("closing a stream subscriber that fell %d events behind", QUEUE_LIMIT)
                self.connections.discard(connection)
                asyncio.get_running_loop().create_task(
                    connection.socket.close(code=CLOSE_TOO_SLOW, message=b"subscriber too slow")
                )

    async def close_all(self, reason: str) -> int:
        """Drop every connection (closed 1001 "going away": clients reconnect); how many.

        The closes run concurrently, each waiting for its client's answer (bounded by the
        socket's close timeout), so one client that does not read cannot hold up the others.
        """
        dropped = list(self.connections)
        self.connections.clear()

        async def close(connection: Connection) -> None:
            with contextlib.suppress(Exception):
                await connection.socket.close(code=WSCloseCode.GOING_AWAY, message=reason.encode())

        await asyncio.gather(*(close(connection) for connection in dropped))
        return len(dropped)

    def as_json(self) -> dict[str, Any]:
        return {
            "connections": len(self.connections),
            "subscriptions": sum(len(c.subscriptions) for c in self.connections),
            "accepted": self.accepted,
            "published": dict(self.published),
        }


def _api_key_of(payload: object) -> str:
    if not isinstance(payload, Mapping):
        return ""
    headers = payload.get("headers")
    for source in (headers if isinstance(headers, Mapping) else {}, payload):
        for name, value in source.items():
            if isinstance(name, str) and name.lower() == "x-api-key" and isinstance(value, str):
                return value
    return ""


def root_field(payload: object) -> str | None:
    """The subscription's root field, read from its document (None if not one we serve)."""
    if not isinstance(payload, Mapping) or not isinstance(payload.get("query"), str):
        return None
    match = _ROOT_FIELD.search(payload["query"])
    return match.group(1) if match else None


async def serve(request: web.Request, hub: Hub, api_key: str) -> web.StreamResponse:
    """The ``GET /graphql`` handler: one connection, from the handshake until either side closes."""
    socket = web.WebSocketResponse(protocols=(PROTOCOL,), autoping=True, max_msg_size=1 << 20)
    await socket.prepare(request)
    if socket.ws_protocol != PROTOCOL:
        await socket.close(code=CLOSE_BAD_MESSAGE, message=f"subprotocol {PROTOCOL} required".encode())
        return socket
    connection = Connection(socket)
    sender = asyncio.create_task(_send_events(connection))
    try:
        if await _handshake(connection, api_key):
            hub.connections.add(connection)
            hub.accepted += 1
            await _receive(connection, hub)
    finally:
        hub.connections.discard(connection)
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sender
        if not socket.closed:
            await socket.close()
    return socket


async def _handshake(connection: Connection, api_key: str) -> bool:
    socket = connection.socket
    try:
        message = await socket.receive(timeout=INIT_TIMEOUT)
    except TimeoutError:
        await socket.close(code=CLOSE_INIT_TIMEOUT, message=b"connection initialisation timeout")
        return False
    if message.type in _CLOSED:
        return False
    parsed = _message_json(message)
    if parsed is None or parsed.get("type") != "connection_init":
        await socket.close(code=CLOSE_BAD_MESSAGE, message=b"expected connection_init")
        return False
    if not hmac.compare_digest(_api_key_of(parsed.get("payload")).encode(), api_key.encode()):
        await socket.close(code=CLOSE_FORBIDDEN, message=b"Forbidden: missing or invalid X-API-KEY")
        return False
    await socket.send_json({"type": "connection_ack"})
    return True


async def _receive(connection: Connection, hub: Hub) -> None:
    socket = connection.socket
    while True:
        message = await socket.receive()
        if message.type in _CLOSED:
            return
        parsed = _message_json(message)
        if parsed is None:
            await socket.close(code=CLOSE_BAD_MESSAGE, message=b"invalid message")
            return
        kind = parsed.get("type")
        if kind == "ping":
            await socket.send_json({"type": "pong"})
        elif kind == "pong":
            continue
        elif kind == "connection_init":
            await socket.close(code=CLOSE_TOO_MANY_INITS, message=b"too many initialisation requests")
            return
        elif kind == "subscribe":
            if not await _subscribe(connection, parsed, hub):
                return
        elif kind == "complete":
            connection.subscriptions.pop(str(parsed.get("id")), None)
        else:
            await socket.close(code=CLOSE_BAD_MESSAGE, message=f"unknown message type {kind!r}".encode())
            return


async def _subscribe(connection: Connection, message: Mapping[str, Any], hub: Hub) -> bool:
    """Register a subscription; False if the connection was closed for a protocol violation."""
    socket = connection.socket
    subscription_id = message.get("id")
    if not isinstance(subscription_id, str) or not subscription_id:
        await socket.close(code=CLOSE_BAD_MESSAGE, message=b"subscribe without an id")
        return False
    if subscription_id in connection.subscriptions:
        await socket.close(
            code=CLOSE_DUPLICATE_ID, message=f"subscriber for {subscription_id} already exists".encode()
        )
        return False
    field = root_field(message.get("payload"))
    if field is None or field in hub.refused():
        served = [name for name in FIELDS if name not in hub.refused()]
        problem = (
            f'Cannot query field "{field}" on type "Subscription" (a legacy-only server)'
            if field is not None
            else f"the emulator serves the subscriptions {', '.join(served)} only"
        )
        await socket.send_json(
            {
                "id": subscription_id,
                "type": "error",
                "payload": [{"message": problem, "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"}}],
            }
        )
        return True
    connection.subscriptions[subscription_id] = field
    return True


async def _send_events(connection: Connection) -> None:
    while True:
        field, payload = await connection.queue.get()
        for subscription_id, subscribed in list(connection.subscriptions.items()):
            if subscribed != field:
                continue
            try:
                await connection.socket.send_json(
                    {"id": subscription_id, "type": "next", "payload": {"data": {field: payload}}}
                )
            except (ConnectionError, RuntimeError):  # closed under us: the receiver ends it
                return


def _message_json(message: Any) -> dict[str, Any] | None:
    if message.type != WSMsgType.TEXT:
        return None
    try:
        parsed = json.loads(message.data)
    except json.JSONDecodeError:
        return None
    return parsed if isinstance(parsed, dict) else None
