"""The HTTP port's own server, in-process over loopback: answers, keep-alive and pipelining, the
bounds (deadline, sizes, connection cap), lingering close, and a standard client (urllib)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator

import pytest

from stigg_sidecar import probe_port, promtext

TIMEOUT = 0.5


@contextlib.asynccontextmanager
async def _port(max_connections: int = 4) -> AsyncIterator[tuple[probe_port.ProbePort, promtext.Counter]]:
    refused = promtext.Counter("refused", "Refused connections")

    async def livez() -> probe_port.Response:
        return probe_port.json_response({"status": "UP"})

    async def slow() -> probe_port.Response:
        await asyncio.sleep(0.3)
        return probe_port.Response(b"done\n", content_type="text/plain; charset=utf-8")

    async def broken() -> probe_port.Response:
        raise RuntimeError("boom")

    port = probe_port.ProbePort(
        {"/livez": livez, "/slow": slow, "/broken": broken},
        max_connections=max_connections,
        request_timeout=TIMEOUT,
        refused=refused,
    )
    await port.start("127.0.0.1", 0)
    try:
        yield port, refused
    finally:
        await port.close()


@contextlib.asynccontextmanager
async def _connection(
    port: probe_port.ProbePort,
) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port.port)
    try:
        yield reader, writer
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def _response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    status_line = await asyncio.wait_for(reader.readline(), 5)
    assert status_line.startswith(b"HTTP/1.1 "), status_line
    headers = {}
    while (line := await asyncio.wait_for(reader.readline(), 5)) != b"\r\n":
        name, _, value = line.decode().partition(":")
        headers[name.lower()] = value.strip()
    body = await asyncio.wait_for(reader.readexactly(int(headers["content-length"])), 5)
    return int(status_line.split()[1]), headers, body


async def _closed_within(reader: asyncio.StreamReader, seconds: float) -> float:
    started = time.monotonic()
    with contextlib.suppress(ConnectionError):
        while await asyncio.wait_for(reader.read(65536), seconds):
            pass
    return time.monotonic() - started


async def test_answers_keep_alive_and_pipelined_requests_in_order() -> None:
    async with _port() as (port, _), _connection(port) as (reader, writer):
        writer.write(b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\nGET /nope?x=1 HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, body = await _response(reader)
        assert (status, json.loads(body)) == (200, {"status": "UP"})
        assert headers["content-type"] == "application/json; charset=utf-8"
        assert "connection" not in headers
        assert headers["date"].endswith(" GMT")
        status, _, body = await _response(reader)
        assert (status, json.loads(body)) == (404, {"error": "not found"})
        writer.write(b"POST /livez HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
        status, headers, _ = await _response(reader)
        assert (status, headers["allow"], headers["connection"]) == (405, "GET", "close")
        assert await _closed_within(reader, 5) < 0.2, "a request with a body closes the connection"


async def test_head_gets_no_body_and_http_1_0_or_close_ends_the_connection() -> None:
    async with _port() as (port, _):
        for request in (b"GET /livez HTTP/1.0\r\n\r\n", b"GET /livez HTTP/1.1\r\nConnection: close\r\n\r\n"):
            async with _connection(port) as (reader, writer):
                writer.write(request)
                status, headers, _ = await _response(reader)
                assert (status, headers["connection"]) == (200, "close")
                assert await _closed_within(reader, 5) < 0.2
        async with _connection(port) as (reader, writer):
            writer.write(b"HEAD /livez HTTP/1.1\r\n\r\nGET /livez HTTP/1.1\r\n\r\n")
            status_line = await reader.readline()
            assert status_line.startswith(b"HTTP/1.1 405")
            while await reader.readline() != b"\r\n":
                pass
            status, _, _ = await _response(reader)  # the next answer follows the head at once
            assert status == 200


@pytest.mark.parametrize(
    "head",
    [
        b"GET /livez HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(33)) + b"\r\n",
        b"GET /livez HTTP/1.1\r\nX-Long: " + b"y" * 5000 + b"\r\n\r\n",
        b"GET /livez HTTP/1.1\r\nX-Endless: " + b"y" * 200_000,
        b"GARBAGE\r\n\r\n",
        b"GET /livez HTTP/2.0\r\n\r\n",
    ],
    ids=["33 fields", "a 5000-byte field", "an endless head", "no request line", "version"],
)
async def test_heads_beyond_the_bounds_are_refused_with_400(head: bytes) -> None:
    async with _port() as (port, _), _connection(port) as (reader, writer):
        writer.write(head)
        status, headers, body = await _response(reader)
        assert (status, headers["connection"]) == (400, "close")
        assert json.loads(body)["error"].startswith("bad request")
        assert await _closed_within(reader, 5) < TIMEOUT + 0.5


async def test_a_trickled_head_and_an_idle_connection_are_closed_at_the_deadline() -> None:
    async with _port() as (port, _):
        async with _connection(port) as (reader, writer):
            closed = asyncio.ensure_future(_closed_within(reader, 5))
            for byte in b"GET /livez HTTP/1.1\r\nX-Slow: sssssssssssssssssssssssssssss":
                if closed.done():
                    break
                writer.write(bytes([byte]))
                await asyncio.sleep(0.05)
            assert await closed < TIMEOUT + 0.3
        async with _connection(port) as (reader, writer):
            writer.write(b"GET /livez HTTP/1.1\r\n\r\n")
            await _response(reader)
            assert TIMEOUT - 0.1 < await _closed_within(reader, 5) < TIMEOUT + 0.3


async def test_a_body_is_drained_for_at_most_the_deadline() -> None:
    async with _port() as (port, _):
        async with _connection(port) as (reader, writer):
            writer.write(b"GET /livez HTTP/1.1\r\nContent-Length: 100000\r\n\r\n")
            status, _, _ = await _response(reader)
            assert status == 200
            assert TIMEOUT - 0.1 < await _closed_within(reader, 5) < TIMEOUT + 0.3
        async with _connection(port) as (reader, writer):
            writer.write(b"GET /livez HTTP/1.1\r\nContent-Length: 5\r\n\r\n")
            await _response(reader)
            writer.write(b"hello")
            assert await _closed_within(reader, 5) < 0.2, "closed once the body is drained"


async def test_connections_beyond_the_cap_are_closed_at_once_and_counted() -> None:
    async with _port(max_connections=2) as (port, refused):
        async with _connection(port), _connection(port):
            await asyncio.sleep(0.05)
            async with _connection(port) as (reader, _):
                assert await _closed_within(reader, 5) < 0.2
            assert port.connections == 2
        await asyncio.sleep(0.05)
        assert port.connections == 0
        assert b"refused_total 1.0" in promtext.generate_latest(_registry_of(refused))


def _registry_of(counter: promtext.Counter) -> promtext.CollectorRegistry:
    registry = promtext.CollectorRegistry()
    registry.register(counter)
    return registry


async def test_a_failing_handler_answers_500_and_close_waits_for_answers_in_progress() -> None:
    async with _port() as (port, _), _connection(port) as (reader, writer):
        writer.write(b"GET /broken HTTP/1.1\r\n\r\n")
        status, _, body = await _response(reader)
        assert (status, json.loads(body)) == (500, {"error": "internal error"})
        writer.write(b"GET /slow HTTP/1.1\r\n\r\n")
        await asyncio.sleep(0.05)
        await port.close()  # while /slow is being answered
        status, _, body = await _response(reader)
        assert (status, body) == (200, b"done\n")
        assert await _closed_within(reader, 5) < 0.2


async def test_a_standard_client_reads_every_route() -> None:
    async with _port() as (port, _):

        def get(path: str) -> tuple[int, bytes]:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port.port}{path}", timeout=5) as answer:
                    return answer.status, answer.read()
            except urllib.error.HTTPError as error:
                return error.code, error.read()

        assert await asyncio.to_thread(get, "/livez") == (200, b'{"status": "UP"}')
        assert await asyncio.to_thread(get, "/slow") == (200, b"done\n")
        assert (await asyncio.to_thread(get, "/missing"))[0] == 404
