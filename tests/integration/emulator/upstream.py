"""A small typed HTTP client for the emulator's endpoints, as the tests use them."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import pathlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from stigg_emulator import app, catalog, graphql, stream

Json = Any
ENTITLEMENTS_DOCUMENT = "subscription OnEntitlementsUpdated { entitlementsUpdated { customerId } }"
USAGE_DOCUMENT = "subscription OnUsageUpdated { usageUpdated { usage { customerId } } }"
LEGACY_SUBSCRIPTIONS = {"e": ENTITLEMENTS_DOCUMENT, "u": USAGE_DOCUMENT}
# Every served root field, by subscription id (the documents select little: nothing parses them).
ALL_SUBSCRIPTIONS = {
    **LEGACY_SUBSCRIPTIONS,
    "e2": "subscription OnEntitlementsUpdatedV2 { entitlementsUpdatedV2 { customerId } }",
    "u2": "subscription OnUsageUpdatedV2 { usageUpdatedV2 { customerId } }",
    "p": "subscription OnPackagePublished { packagePublished { packageRefId } }",
}


PRO_API_CALLS = "      feature-api-calls: {usageLimit: 100000, hasSoftLimit: true, resetPeriod: MONTH}\n"


def write_sample_with_credit_rate(path: pathlib.Path) -> None:
    """Write the sample catalog to ``path``, with a Pro API call costing 2 AI credits."""
    text = catalog.SAMPLE_PATH.read_text()
    assert PRO_API_CALLS in text
    rated = PRO_API_CALLS[:-2] + ", creditRate: {amount: 2, currencyId: credits-ai}}\n"
    path.write_text(text.replace(PRO_API_CALLS, rated))


async def next_message(socket: aiohttp.ClientWebSocketResponse) -> Json:
    """The next JSON message (within 5 s), or ``{"closed": code, "reason": ...}`` if the server closed."""
    message = await socket.receive(timeout=5.0)
    if message.type == aiohttp.WSMsgType.TEXT:
        return json.loads(message.data)
    code = message.data if message.type == aiohttp.WSMsgType.CLOSE else socket.close_code
    return {"closed": code, "reason": message.extra}


async def next_event(socket: aiohttp.ClientWebSocketResponse) -> tuple[str, str, Json]:
    """The next ``next`` message: (subscription id, root field, payload)."""
    message = await next_message(socket)
    assert message.get("type") == "next", message
    [(field, payload)] = message["payload"]["data"].items()
    return message["id"], field, payload


async def events_until_quiet(
    socket: aiohttp.ClientWebSocketResponse, quiet: float = 0.3
) -> list[tuple[str, Json]]:
    """Every event that arrives until none has for ``quiet`` seconds: (root field, payload)."""
    received: list[tuple[str, Json]] = []
    while True:
        try:
            message = await socket.receive(timeout=quiet)
        except TimeoutError:
            return received
        parsed = json.loads(message.data)
        assert parsed.get("type") == "next", parsed
        [(field, payload)] = parsed["payload"]["data"].items()
        received.append((field, payload))


async def no_message_within(socket: aiohttp.ClientWebSocketResponse, seconds: float) -> bool:
    try:
        await socket.receive(timeout=seconds)
    except TimeoutError:
        return True
    return False


@dataclasses.dataclass
class Upstream:
    """The emulator at ``base_url``, reached through one aiohttp session."""

    base_url: str
    api_key: str
    session: aiohttp.ClientSession

    async def edge(
        self,
        customer_id: str,
        *,
        resource_id: str | None = None,
        api_key: str | None = None,
        legacy: bool = False,
    ) -> tuple[int, Json]:
        """``GET /v1/c/{customerId}/entitlements-state.json`` (or the legacy ``entitlements.json``)."""
        name = "entitlements.json" if legacy else "entitlements-state.json"
        params = {"resourceId": resource_id} if resource_id is not None else None
        headers = {app.API_KEY_HEADER: self.api_key if api_key is None else api_key, "X-API-VERSION": "1"}
        async with self.session.get(
            f"{self.base_url}/v1/c/{customer_id}/{name}", params=params, headers=headers
        ) as response:
            return response.status, await response.json()

    async def graphql(
        self,
        operation: str | None,
        variables: Json,
        *,
        api_key: str | None = None,
        name_in: str = "body",
    ) -> tuple[int, Json]:
        """``POST /graphql`` naming ``operation`` in the body, the header, or only the document."""
        body: dict[str, Json] = {"query": f"mutation {operation} {{ x }}", "variables": variables}
        headers = {app.API_KEY_HEADER: self.api_key if api_key is None else api_key}
        if name_in == "body":
            body["operationName"] = operation
        elif name_in == "header" and operation is not None:
            headers[graphql.OPERATION_HEADER] = operation
            body["query"] = "{ x }"
        elif name_in == "nowhere":
            body["query"] = "{ x }"
        async with self.session.post(f"{self.base_url}/graphql", json=body, headers=headers) as response:
            return response.status, await response.json()

    async def report_usage(self, **fields: Json) -> tuple[int, Json]:
        return await self.graphql("ReportUsage", {"input": fields})

    async def admin(self, method: str, path: str, body: Json = None) -> tuple[int, Json]:
        """A request to ``/_emulator/{path}``; the JSON answer (None when there is no body)."""
        async with self.session.request(method, f"{self.base_url}/_emulator/{path}", json=body) as response:
            payload = await response.json() if response.content_length else None
            return response.status, payload

    async def entitlements(self, customer_id: str, *, resource_id: str | None = None) -> dict[str, Json]:
        """The customer's entitlements by feature id (asserting a 200 without denial)."""
        status, body = await self.edge(customer_id, resource_id=resource_id)
        assert status == 200, body
        state = body["data"]["entitlementsState"]
        assert state["accessDeniedReason"] is None, state
        return {entitlement["feature"]["refId"]: entitlement for entitlement in state["entitlements"]}

    async def counters(self) -> Json:
        status, body = await self.admin("GET", "requests")
        assert status == 200
        return body

    @contextlib.asynccontextmanager
    async def stream(
        self, *, init: Json = None, subscribe: bool = True, subscriptions: dict[str, str] | None = None
    ) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
        """A stream connection, initialised with the API key (or ``init``, the whole
        connection_init message) and subscribed to ``subscriptions`` (id → document; by default
        the two legacy events as ids "e" and "u")."""
        async with self.session.ws_connect(
            f"{self.base_url}/graphql", protocols=(stream.PROTOCOL,)
        ) as socket:
            await socket.send_json(
                init or {"type": "connection_init", "payload": {"headers": {"X-API-KEY": self.api_key}}}
            )
            if init is None:
                assert await next_message(socket) == {"type": "connection_ack"}
            if subscribe and init is None:
                for sid, document in (subscriptions or LEGACY_SUBSCRIPTIONS).items():
                    await socket.send_json({"id": sid, "type": "subscribe", "payload": {"query": document}})
                await socket.send_json({"type": "ping"})
                assert await next_message(socket) == {"type": "pong"}
            yield socket

    async def stream_status(self) -> Json:
        status, body = await self.admin("GET", "stream")
        assert status == 200
        return body
