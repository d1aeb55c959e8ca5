"""The real-time stream client: Stigg's GraphQL subscriptions over WebSocket, reconnecting forever.

``StreamClient.run`` connects to ``{WS_URL}/graphql`` with the ``graphql-transport-ws``
subprotocol, sends ``connection_init`` with the API key in ``payload.headers`` (as Stigg's
SDKs do), waits for ``connection_ack``, subscribes, and hands every event to its ``Listener``.
It speaks Stigg's current protocol (``entitlementsUpdatedV2``, ``usageUpdatedV2``,
``packagePublished``, as Stigg's Node SDK 4.43 and later do) and falls back to the legacy one
(``entitlementsUpdated``, ``usageUpdated``, ``packagePublished``) only when the server refuses
a current subscription, on the same connection, for the rest of the process's life;
``protocol`` says which is followed (``/readyz``, ``sidecar_stream_protocol``). The protocol
has no acknowledgement of a subscription, so the client follows its subscribe messages with a
``ping``: the server handles one connection's messages in order, so its ``pong`` means the
subscriptions are in place (or were refused: an ``error`` message comes first), and only then
is the listener told ``connected(since)``, ``since`` being the monotonic time the ping was sent:
everything fetched before it may have missed an event and must be refreshed (the listener's
resync).

Keep-alive: when nothing arrives for ``keepalive`` seconds the client pings; if nothing arrives
for another ``keepalive`` the connection is dead (a half-open TCP connection never says so) and
is dropped. Any failure (refused, 5xx on the upgrade, closed, dead, a malformed message) leads
to ``disconnected()`` and a reconnect after an exponential backoff with full jitter
(``reconnect_delay``: uniform over the whole window, which doubles from ``backoff_base`` up to
``reconnect_max`` seconds and is reset by a connection that reached its subscriptions), so that
the replicas of a fleet, all dropped at the same moment, do not reconnect in lockstep. A
refused API key (close 4401/4403) is logged without the key and retried with the capped window.
An event that cannot be parsed is logged and skipped; it does not cost the connection.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Callable
from typing import Any, Protocol

import aiohttp

from stigg_sidecar import metrics
from stigg_sidecar.upstream import parse, stigg

logger = logging.getLogger(__name__)

PROTOCOL = "graphql-transport-ws"
ENTITLEMENTS_V2_SUBSCRIPTION = (
    "subscription OnEntitlementsUpdatedV2 { entitlementsUpdatedV2 { customerId resourceId accessDeniedReason"
    f" entitlements {{ {stigg.ENTITLEMENT_UNION_FIELDS} }} }} }}"
)
USAGE_V2_SUBSCRIPTION = (
    "subscription OnUsageUpdatedV2 { usageUpdatedV2 { customerId resourceId entitlementReference { id type }"
    " usage { currentUsage usageUpdatedAt usagePeriodStart usagePeriodEnd } } }"
)
PACKAGE_PUBLISHED_SUBSCRIPTION = (
    "subscription OnPackagePublished { packagePublished { accountId environmentId packageType packageRefId"
    " packageVersion migrationType } }"
)
ENTITLEMENTS_SUBSCRIPTION = (
    "subscription OnEntitlementsUpdated { entitlementsUpdated { customerId resourceId"
    f" entitlements {{ {stigg.ENTITLEMENT_FIELDS} }} }} }}"
)
USAGE_SUBSCRIPTION = (
    "subscription OnUsageUpdated { usageUpdated { usage { customerId resourceId featureId currentUsage"
    f" usagePeriodStart usagePeriodEnd nextResetDate }} entitlement {{ {stigg.ENTITLEMENT_FIELDS} }} }} }}"
)
SUBSCRIPTIONS = {
    "v2": (ENTITLEMENTS_V2_SUBSCRIPTION, USAGE_V2_SUBSCRIPTION, PACKAGE_PUBLISHED_SUBSCRIPTION),
    "legacy": (ENTITLEMENTS_SUBSCRIPTION, USAGE_SUBSCRIPTION, PACKAGE_PUBLISHED_SUBSCRIPTION),
}
_REFUSED_KEY_CODES = (4401, 4403)
_MAX_MESSAGE_BYTES = 16 << 20


class Listener(Protocol):
    """What the client reports to: the sidecar's ``realtime.Follower``."""

    def connected(self, since: float) -> None:
        """Subscriptions are live; entries current only as of before ``since`` may be stale."""

    def event(self, event: parse.StreamEvent) -> None: ...

    def disconnected(self) -> None: ...


def reconnect_delay(
    failures: int, *, base: float, cap: float, draw: Callable[[float, float], float] = random.uniform
) -> float:
    """Seconds to wait before reconnecting after ``failures`` failed attempts in a row: drawn
    uniformly over ``[0, min(cap, base * 2**failures)]`` ("full jitter"). Drawing over the whole
    window, rather than its upper half, spreads replicas that lost the stream together over all
    of it, and keeps them spread as the window grows: their attempts are never in lockstep."""
    return draw(0.0, min(cap, base * 2 ** min(failures, 16)))


class StreamError(Exception):
    """The connection failed or broke; the message says how (never with the API key)."""


class StreamClient:
    def __init__(
        self,
        *,
        url: str,
        api_key: str,
        listener: Listener,
        sidecar_metrics: metrics.Metrics,
        keepalive: float = 10.0,
        reconnect_max: float = 30.0,
        backoff_base: float = 0.25,
    ) -> None:
        self.url = url.rstrip("/") + "/graphql"
        self._api_key = api_key
        self._listener = listener
        self._metrics = sidecar_metrics
        self._keepalive = keepalive
        self._reconnect_max = reconnect_max
        self._backoff_base = backoff_base
        self.protocol = "v2"
        self.connected = False
        self._ids: dict[str, str] = {}  # this connection's subscriptions, by id
        self._completed: set[str] = set()  # the ones this client completed
        self._reached = False  # the current connection got as far as its subscriptions

    async def run(self) -> None:
        """Connect, follow, reconnect: until cancelled."""
        failures = 0
        async with aiohttp.ClientSession() as session:
            while True:
                self._reached = False
                try:
                    await self._follow(session)
                except _KeyRefused as error:
                    self._lost(str(error), refused_key=True)
                    failures = max(failures, 64)
                except (StreamError, aiohttp.ClientError, OSError, TimeoutError) as error:
                    self._lost(_describe(error), refused_key=False)
                if self._reached:
                    failures = 0
                delay = reconnect_delay(failures, base=self._backoff_base, cap=self._reconnect_max)
                failures += 1
                await asyncio.sleep(delay)

    def _lost(self, why: str, *, refused_key: bool) -> None:
        was_connected = self.connected
        self.connected = False
        self._metrics.stream_connected.set(0)
        self._metrics.stream_disconnects.inc()
        if refused_key:
            self._metrics.invalid_api_key.inc()
            logger.error("the event stream refused the API key: %s", why)
        elif was_connected:
            logger.warning("event stream lost (%s): reconnecting; entitlements follow the TTL meanwhile", why)
        else:
            logger.info("event stream unavailable (%s): retrying", why)
        self._listener.disconnected()

    async def _follow(self, session: aiohttp.ClientSession) -> None:
        """One connection, from the upgrade to its end, which is always an exception."""
        try:
            async with asyncio.timeout(self._keepalive):  # a server that accepts but never answers
                socket = await session.ws_connect(
                    self.url,
                    protocols=(PROTOCOL,),
                    autoping=True,
                    heartbeat=None,
                    timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=2.0),
                    max_msg_size=_MAX_MESSAGE_BYTES,
                )
        except TimeoutError:
            raise StreamError(f"the upgrade was not answered within {self._keepalive:g}s") from None
        except aiohttp.WSServerHandshakeError as error:
            raise StreamError(f"the upgrade was answered {error.status}") from None
        async with socket:
            await socket.send_json(
                {"type": "connection_init", "payload": {"headers": {"X-API-KEY": self._api_key}}}
            )
            ack = await self._receive(socket)
            if ack.get("type") != "connection_ack":
                raise StreamError(f"expected connection_ack, got {ack.get('type')!r}")
            since = await self._subscribe(socket)
            self._reached = self.connected = True
            self._metrics.stream_connected.set(1)
            self._metrics.stream_connects.inc()
            for name, gauge in self._metrics.stream_protocol.items():
                gauge.set(1 if name == self.protocol else 0)
            logger.info("following the event stream at %s (%s protocol)", self.url, self.protocol)
            self._listener.connected(since)
            await self._follow_messages(socket)

    async def _subscribe(self, socket: aiohttp.ClientWebSocketResponse) -> float:
        """Subscribe in the current protocol, else the legacy one; when the server confirmed."""
        number = 0
        self._ids, self._completed = {}, set()
        while True:
            ids = {}
            for document in SUBSCRIPTIONS[self.protocol]:
                number += 1
                ids[str(number)] = document
                await socket.send_json(
                    {"id": str(number), "type": "subscribe", "payload": {"query": document}}
                )
            self._ids = ids
            since = time.monotonic()
            await socket.send_json({"type": "ping"})
            refused = set()
            while (message := await self._receive(socket)).get("type") != "pong":
                if message.get("type") == "error" and message.get("id") in ids:
                    refused.add(message["id"])
                    self._log_refusal(message)
                else:
                    await self._handle(socket, message)
            if not self._current_refused(refused):
                return since
            self._fall_back()
            for subscription_id in ids.keys() - refused:
                await socket.send_json({"id": subscription_id, "type": "complete"})
                self._completed.add(subscription_id)

    def _current_refused(self, refused: set[str]) -> bool:
        """Whether the server refused one of the current protocol's own subscriptions (not the
        ``packagePublished`` both protocols share): a server that predates them."""
        own = {ENTITLEMENTS_V2_SUBSCRIPTION, USAGE_V2_SUBSCRIPTION}
        return self.protocol == "v2" and any(self._ids.get(i) in own for i in refused)

    def _fall_back(self) -> None:
        logger.warning("the event stream refused the current subscriptions: following the legacy ones")
        self.protocol = "legacy"

    def _log_refusal(self, message: dict[str, Any]) -> None:
        logger.error(
            "the event stream refused subscription %s: %s", message.get("id"), message.get("payload")
        )

    async def _follow_messages(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        awaiting_pong = False
        while True:
            try:
                message = await self._receive(socket)
            except TimeoutError:
                if awaiting_pong:
                    raise StreamError(f"no answer to a ping within {self._keepalive:g}s") from None
                await socket.send_json({"type": "ping"})
                awaiting_pong = True
                continue
            awaiting_pong = False
            await self._handle(socket, message)

    async def _handle(self, socket: aiohttp.ClientWebSocketResponse, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "next":
            payload = message.get("payload")
            data = payload.get("data") if isinstance(payload, dict) else None
            try:
                event = parse.stream_event(data, self._skipped)
            except parse.ParseError as error:
                self._metrics.stream_events["malformed"].inc()
                logger.warning("skipping a malformed stream event: %s", error)
                return
            if event is not None:
                self._metrics.stream_events[_EVENT_KINDS[type(event)]].inc()
                self._listener.event(event)
        elif kind == "ping":
            await socket.send_json({"type": "pong"})
        elif kind == "error":
            self._log_refusal(message)
            if self._current_refused({str(message.get("id"))}):  # refused after the pong after all
                self._fall_back()
                raise StreamError("the current subscriptions were refused: reconnecting with the legacy ones")
        elif kind == "complete" and message.get("id") not in self._completed:
            raise StreamError(f"the server completed subscription {message.get('id')}")

    def _skipped(self, typename: str) -> None:
        self._metrics.skipped_items.inc()
        logger.warning("skipping a stream item of an unknown kind (%.100s)", typename)

    async def _receive(self, socket: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
        """The next protocol message; raises on close, on a non-JSON message, and after the
        keep-alive interval without any (``TimeoutError``)."""
        message = await socket.receive(timeout=self._keepalive)
        if message.type == aiohttp.WSMsgType.TEXT:
            try:
                parsed = json.loads(message.data)
            except json.JSONDecodeError:
                raise StreamError("the server sent a message that is not JSON") from None
            if not isinstance(parsed, dict):
                raise StreamError("the server sent a message that is not a JSON object")
            return parsed
        if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
            code = message.data if message.type == aiohttp.WSMsgType.CLOSE else socket.close_code
            reason = message.extra if isinstance(message.extra, str) else ""
            if code in _REFUSED_KEY_CODES:
                raise _KeyRefused(f"closed with {code} {reason}".strip())
            raise StreamError(f"the server closed the connection ({code} {reason})".strip())
        if message.type == aiohttp.WSMsgType.ERROR:
            raise StreamError(f"connection error: {_describe(socket.exception())}")
        raise StreamError(f"unexpected {message.type.name} message")


class _KeyRefused(Exception):
    pass


_EVENT_KINDS: dict[type, str] = {
    parse.EntitlementsUpdated: "entitlements",
    parse.UsageUpdated: "usage",
    parse.CreditUsageUpdated: "credit_usage",
    parse.PackagePublished: "package_published",
}


def _describe(error: BaseException | None) -> str:
    if error is None:
        return "unknown error"
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
