"""Flooding one port cannot use up the descriptors the other needs. A sidecar allowed 400 file
descriptors, its HTTP port flooded with 600 connections, keeps answering checks on new gRPC
connections, for held and new customers (an upstream fetch needs a descriptor too); its gRPC
port flooded with 600 silent connections, ``/livez`` keeps answering, and the silent ones are
dropped after the 10 s handshake timeout so new gRPC connections are accepted again.

Before, the first flood took every descriptor: new connections and upstream fetches failed."""

from __future__ import annotations

import asyncio
import contextlib
import pathlib
import socket
from collections.abc import AsyncIterator, Iterator

import grpc
import pytest

from stigg_devkit import sidecar_launcher, waiting
from stigg_emulator import launcher
from stigg_sidecar import client
from tests.integration.sidecar import conftest

LIMIT = 400
FLOOD = 600


@pytest.fixture
def starved(
    emulator: launcher.RunningEmulator, tmp_path: pathlib.Path
) -> Iterator[sidecar_launcher.RunningSidecar]:
    running = sidecar_launcher.start(
        conftest.upstream_env(emulator), tmp_path / "sidecar.log", descriptor_limit=LIMIT
    )
    try:
        yield running
    finally:
        running.stop()


@contextlib.asynccontextmanager
async def _flood(target: str) -> AsyncIterator[None]:
    """``FLOOD`` connections to ``host:port`` that send nothing, opened 50 every 0.1 s (so the
    listen backlog never overflows and every one reaches the server); closed on exit."""
    host, port = target.rsplit(":", 1)
    sockets: list[socket.socket] = []
    try:
        for index in range(FLOOD):
            flooding = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            flooding.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                flooding.connect((host, int(port)))
            sockets.append(flooding)
            if index % 50 == 49:
                await asyncio.sleep(0.1)
        await asyncio.sleep(1)
        yield
    finally:
        for flooding in sockets:
            flooding.close()


async def _check(target: str, customer: str) -> bool:
    """A check on a connection of its own (channels in one process share connections unless
    told not to)."""
    channel = grpc.aio.insecure_channel(target, options=[("grpc.use_local_subchannel_pool", 1)])
    async with client.AsyncSidecarClient(channel=channel, timeout=5) as stub:
        answer = await stub.get_boolean_entitlement(customer, "feature-sso")
        return answer.has_access and not answer.is_fallback


async def test_a_flooded_http_port_leaves_checks_answered(starved: sidecar_launcher.RunningSidecar) -> None:
    assert await _check(starved.grpc_target, "customer-pro")
    async with _flood(starved.http_url.removeprefix("http://")):
        assert await _check(starved.grpc_target, "customer-pro"), "a held customer, on a new connection"
        assert await _check(starved.grpc_target, "customer-enterprise"), "a new customer, fetched upstream"
    refused = await waiting.eventually(  # once the flood's connections are gone
        lambda: asyncio.to_thread(_metric_or_none, starved, "sidecar_http_refused_connections_total"),
        within=5,
        what="the HTTP port to answer again",
    )
    assert refused > 0  # the cap was at work (the rest of the flood may still be in the backlog)


async def _new_connection_answers(target: str) -> bool:
    try:
        return await _check(target, "customer-pro")
    except grpc.aio.AioRpcError as error:
        if error.code() != grpc.StatusCode.UNAVAILABLE:
            raise
        return False


def _metric_or_none(sidecar: sidecar_launcher.RunningSidecar, name: str) -> float | None:
    try:
        return sidecar.metric(name)
    except OSError:
        return None


async def test_a_flooded_grpc_port_leaves_probes_answered(starved: sidecar_launcher.RunningSidecar) -> None:
    async with client.AsyncSidecarClient(starved.grpc_target, timeout=5) as stub:
        assert (await stub.get_boolean_entitlement("customer-pro", "feature-sso")).has_access
        async with _flood(starved.grpc_target):
            assert not await _new_connection_answers(starved.grpc_target), "the cap was not reached"
            assert starved.http_json("/livez") == (200, {"status": "UP"})
            assert starved.http_json("/readyz")[0] == 200
            answer = await stub.get_boolean_entitlement("customer-enterprise", "feature-sso")
            assert answer.has_access, "an open connection, a new customer"
            assert not answer.is_fallback
            # The silent connections are dropped after the handshake timeout: new ones get in.
            await waiting.eventually(
                lambda: _new_connection_answers(starved.grpc_target),
                within=20,
                what="a new gRPC connection to be accepted",
            )
