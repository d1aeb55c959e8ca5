"""The emulator's stream speaks graphql-transport-ws: the handshake, the API key, protocol
violations closed with the protocol's codes, ping/pong, and unknown subscriptions refused."""

from __future__ import annotations

import aiohttp
import pytest

from stigg_emulator import stream
from tests.integration.emulator import upstream as upstream_client

Upstream = upstream_client.Upstream


@pytest.mark.parametrize(
    "payload",
    [{"headers": {"X-API-KEY": "KEY"}}, {"headers": {"x-api-key": "KEY"}}, {"X-API-KEY": "KEY"}],
    ids=["headers", "lower-case-header", "top-level"],
)
async def test_the_key_is_accepted_where_clients_send_it(
    upstream: Upstream, payload: dict[str, object]
) -> None:
    shown = {
        k: ({n: upstream.api_key for n in v} if isinstance(v, dict) else upstream.api_key)
        for k, v in payload.items()
    }
    async with upstream.stream(init={"type": "connection_init", "payload": shown}) as socket:
        assert await upstream_client.next_message(socket) == {"type": "connection_ack"}
        await socket.send_json({"type": "ping"})
        assert await upstream_client.next_message(socket) == {"type": "pong"}


@pytest.mark.parametrize("key", ["wrong-key", None])
async def test_a_wrong_or_missing_key_is_closed_4403_without_echoing_it(
    upstream: Upstream, key: str | None
) -> None:
    payload = {} if key is None else {"headers": {"X-API-KEY": key}}
    async with upstream.stream(init={"type": "connection_init", "payload": payload}) as socket:
        closed = await upstream_client.next_message(socket)
    assert closed["closed"] == stream.CLOSE_FORBIDDEN
    assert "wrong-key" not in closed["reason"]
    assert upstream.api_key not in closed["reason"]
    assert (await upstream.stream_status())["accepted"] == 0


async def test_subscribe_before_connection_init_is_closed_4400(upstream: Upstream) -> None:
    message = {"id": "1", "type": "subscribe", "payload": {"query": upstream_client.ENTITLEMENTS_DOCUMENT}}
    async with upstream.stream(init=message) as socket:
        closed = await upstream_client.next_message(socket)
    assert closed["closed"] == stream.CLOSE_BAD_MESSAGE


async def test_a_second_connection_init_is_closed_4429(upstream: Upstream) -> None:
    async with upstream.stream(subscribe=False) as socket:
        await socket.send_json({"type": "connection_init", "payload": {}})
        closed = await upstream_client.next_message(socket)
    assert closed["closed"] == stream.CLOSE_TOO_MANY_INITS


async def test_a_subscription_id_in_use_is_closed_4409(upstream: Upstream) -> None:
    async with upstream.stream() as socket:
        await socket.send_json(
            {"id": "e", "type": "subscribe", "payload": {"query": upstream_client.ENTITLEMENTS_DOCUMENT}}
        )
        closed = await upstream_client.next_message(socket)
    assert closed["closed"] == stream.CLOSE_DUPLICATE_ID


async def test_an_unknown_subscription_gets_an_error_and_the_connection_stays(upstream: Upstream) -> None:
    async with upstream.stream(subscribe=False) as socket:
        await socket.send_json(
            {"id": "x", "type": "subscribe", "payload": {"query": "subscription { somethingElse { id } }"}}
        )
        error = await upstream_client.next_message(socket)
        assert (error["id"], error["type"]) == ("x", "error")
        assert "entitlementsUpdated" in error["payload"][0]["message"]
        await socket.send_json({"type": "ping"})
        assert await upstream_client.next_message(socket) == {"type": "pong"}


async def test_a_connection_without_the_subprotocol_is_closed(upstream: Upstream) -> None:
    async with upstream.session.ws_connect(f"{upstream.base_url}/graphql") as socket:
        closed = await upstream_client.next_message(socket)
    assert closed["closed"] == stream.CLOSE_BAD_MESSAGE
    assert stream.PROTOCOL in closed["reason"]


async def test_an_outage_refuses_the_upgrade_and_drops_open_connections(upstream: Upstream) -> None:
    async with upstream.stream() as socket:
        status, _ = await upstream.admin("PUT", "faults", {"outage": True})
        assert status == 200
        closed = await upstream_client.next_message(socket)
        assert closed["closed"] == aiohttp.WSCloseCode.GOING_AWAY
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        async with upstream.stream():
            pass
    assert refused.value.status == 503
    counters = await upstream.counters()
    assert counters["byEndpoint"]["stream:graphql"] == 2
    assert counters["byStatus"] == {"101": 1, "503": 1}


async def test_the_drop_endpoint_closes_every_connection(upstream: Upstream) -> None:
    async with upstream.stream() as first, upstream.stream() as second:
        status = await upstream.stream_status()
        assert (status["connections"], status["subscriptions"]) == (2, 4)
        _, body = await upstream.admin("POST", "stream/drop")
        assert body == {"dropped": 2}
        for socket in (first, second):
            assert (await upstream_client.next_message(socket))["closed"] == aiohttp.WSCloseCode.GOING_AWAY
    assert (await upstream.stream_status())["connections"] == 0
