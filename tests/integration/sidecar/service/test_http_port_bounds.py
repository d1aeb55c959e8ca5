"""The HTTP port (probes, metrics) cannot be held by a client: a request head that never
completes, even trickled byte by byte, and a body never sent are cut off after
``SIDECAR_HTTP_REQUEST_TIMEOUT_SECONDS`` (before: an hour, aiohttp's default keep-alive, and 10
s); connections beyond ``SIDECAR_HTTP_MAX_CONNECTIONS`` are closed as soon as accepted
(before: no cap), and the port answers again once they go."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import pytest

from stigg_devkit import sidecar_launcher, waiting
from stigg_emulator import launcher
from tests.integration.sidecar import conftest

TIMEOUT = 1.0


@pytest.fixture
def bounded(
    emulator: launcher.RunningEmulator, start_sidecar: conftest.SidecarFactory
) -> sidecar_launcher.RunningSidecar:
    return start_sidecar(
        {
            **conftest.upstream_env(emulator),
            "SIDECAR_HTTP_REQUEST_TIMEOUT_SECONDS": str(TIMEOUT),
            "SIDECAR_HTTP_MAX_CONNECTIONS": "8",
        }
    )


@contextlib.asynccontextmanager
async def _connection(
    sidecar: sidecar_launcher.RunningSidecar,
) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    host, port = sidecar.http_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        yield reader, writer
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def _closed_within(reader: asyncio.StreamReader, seconds: float) -> float:
    """Read until the server closes the connection; how long that took."""
    started = time.monotonic()
    with contextlib.suppress(ConnectionError):
        while await asyncio.wait_for(reader.read(65536), seconds):
            pass
    return time.monotonic() - started


async def test_a_trickled_request_head_is_cut_off(bounded: sidecar_launcher.RunningSidecar) -> None:
    async with _connection(bounded) as (reader, writer):
        started = time.monotonic()
        closed = asyncio.ensure_future(_closed_within(reader, 10))
        for byte in b"GET /livez HTTP/1.1\r\nHost: sidecar\r\nX-Slow: " + b"s" * 100:
            if closed.done():
                break
            with contextlib.suppress(ConnectionError):
                writer.write(bytes([byte]))
                await writer.drain()
            await asyncio.sleep(0.05)  # a byte every 50 ms: 7 s for the whole head
        await closed
        assert time.monotonic() - started < TIMEOUT + 1.5, "the head was not cut off at its deadline"


async def test_a_body_never_sent_is_cut_off(bounded: sidecar_launcher.RunningSidecar) -> None:
    async with _connection(bounded) as (reader, writer):
        writer.write(b"GET /livez HTTP/1.1\r\nHost: sidecar\r\nContent-Length: 100000\r\n\r\n")
        await writer.drain()
        status = await asyncio.wait_for(reader.readline(), 5)
        assert status.startswith(b"HTTP/1.1 200"), status
        assert await _closed_within(reader, 10) < TIMEOUT + 1.5


async def test_connections_beyond_the_cap_are_closed_at_once(
    bounded: sidecar_launcher.RunningSidecar,
) -> None:
    async with contextlib.AsyncExitStack() as held:
        for _ in range(8):
            await held.enter_async_context(_connection(bounded))
        await asyncio.sleep(0.2)
        async with _connection(bounded) as (reader, _):
            assert await _closed_within(reader, 5) < 0.5, "a ninth connection was kept"
    # The eight are gone: the port answers again, and counted the refusal.
    await waiting.eventually(
        lambda: asyncio.to_thread(lambda: bounded.metric("sidecar_http_refused_connections_total") >= 1),
        within=5,
        what="the port to answer again",
    )
