"""Fixtures for the sidecar's tests: the upstream emulator and the sidecar as real processes."""

from __future__ import annotations

import pathlib
from collections.abc import AsyncIterator, Callable, Iterator, Mapping

import aiohttp
import pytest

from stigg_devkit import sidecar_launcher, waiting
from stigg_emulator import catalog, launcher
from stigg_sidecar import client
from tests.integration.sidecar import redis_server as redis_server_module

API_KEY = "sk-test-7d1c0b"  # a test key: asserted never to appear in logs or errors


def _start_emulator() -> launcher.RunningEmulator:
    return launcher.start(catalog_path=catalog.SAMPLE_PATH, latency_ms=0, api_key=API_KEY)


@pytest.fixture
def emulator() -> Iterator[launcher.RunningEmulator]:
    """A fresh emulator with the sample catalog and no added latency."""
    running = _start_emulator()
    try:
        yield running
    finally:
        running.stop()


def upstream_env(emulator: launcher.RunningEmulator) -> dict[str, str]:
    return {
        "SERVER_API_KEY": API_KEY,
        "API_URL": emulator.base_url,
        "EDGE_API_URL": emulator.base_url,
        "WS_ENABLED": "false",
        "SIDECAR_UPSTREAM_RETRIES": "1",
        "SIDECAR_UPSTREAM_TIMEOUT_SECONDS": "2",
    }


def stream_env(emulator: launcher.RunningEmulator) -> dict[str, str]:
    """``upstream_env`` with the real-time stream on, reconnecting within a second and
    resyncing within half a second of it (paced at the default rate)."""
    return {
        **upstream_env(emulator),
        "WS_ENABLED": "true",
        "WS_URL": emulator.ws_url,
        "SIDECAR_WS_RECONNECT_MAX_SECONDS": "1",
        "SIDECAR_WS_KEEPALIVE_SECONDS": "2",
        "SIDECAR_RESYNC_JITTER_SECONDS": "0.5",
    }


async def emulator_admin(
    emulator: launcher.RunningEmulator, method: str, path: str, body: object = None
) -> tuple[int, object]:
    """A request to the emulator's ``/_emulator/{path}``: (status, JSON answer or None)."""
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, f"{emulator.admin_url}/{path}", json=body) as response,
    ):
        return response.status, (await response.json() if response.content_length else None)


def stream_live(sidecar: sidecar_launcher.RunningSidecar) -> bool:
    return sidecar.http_json("/readyz")[1].get("stream") == "live"


def start_live_sidecar(
    start: SidecarFactory, emulator: launcher.RunningEmulator, **extra_env: str
) -> sidecar_launcher.RunningSidecar:
    """A sidecar following the emulator's stream, once its stream is live."""
    running = start({**stream_env(emulator), **extra_env})
    waiting.wait_for(lambda: stream_live(running), timeout=10, what="the stream to be live")
    return running


@pytest.fixture
async def live_stub(
    live_sidecar: sidecar_launcher.RunningSidecar,
) -> AsyncIterator[client.AsyncSidecarClient]:
    """A client of the module's ``live_sidecar`` fixture."""
    async with client.AsyncSidecarClient(live_sidecar.grpc_target, timeout=10) as stub:
        yield stub


SidecarFactory = Callable[[Mapping[str, str]], sidecar_launcher.RunningSidecar]


@pytest.fixture
def start_sidecar(tmp_path: pathlib.Path) -> Iterator[SidecarFactory]:
    """Start sidecars with the given environment; all are stopped after the test."""
    started: list[sidecar_launcher.RunningSidecar] = []

    def start(env: Mapping[str, str]) -> sidecar_launcher.RunningSidecar:
        running = sidecar_launcher.start(env, tmp_path / f"sidecar-{len(started)}.log")
        started.append(running)
        return running

    try:
        yield start
    finally:
        for running in started:
            running.stop()
            assert API_KEY not in running.log(), "the API key leaked into the sidecar's log"


@pytest.fixture
def sidecar(
    emulator: launcher.RunningEmulator, start_sidecar: SidecarFactory
) -> sidecar_launcher.RunningSidecar:
    """A sidecar in front of a fresh emulator."""
    return start_sidecar(upstream_env(emulator))


@pytest.fixture
async def stub(sidecar: sidecar_launcher.RunningSidecar) -> AsyncIterator[client.AsyncSidecarClient]:
    async with client.AsyncSidecarClient(sidecar.grpc_target, timeout=10) as sidecar_client:
        yield sidecar_client


async def upstream_requests(emulator: launcher.RunningEmulator) -> dict[str, object]:
    async with aiohttp.ClientSession() as session, session.get(f"{emulator.admin_url}/requests") as response:
        body: dict[str, object] = await response.json()
        return body


async def upstream_usage(emulator: launcher.RunningEmulator, customer_id: str) -> dict[str, float]:
    """What the emulator counts as the customer's current usage, by feature."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{emulator.admin_url}/usage/{customer_id}") as r,
    ):
        body = await r.json()
        usage: dict[str, float] = body["usage"]
        return usage


async def report_upstream(
    emulator: launcher.RunningEmulator, report: dict[str, object]
) -> tuple[int, object]:
    """A usage report straight to the upstream's GraphQL, as another replica's sidecar sends it:
    (status, JSON answer)."""
    body = {
        "operationName": "ReportUsage",
        "query": "mutation ReportUsage { x }",
        "variables": {"input": report},
    }
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{emulator.base_url}/graphql", json=body, headers={"X-API-KEY": emulator.api_key}
        ) as response,
    ):
        return response.status, await response.json()


async def set_faults(emulator: launcher.RunningEmulator, **faults: object) -> None:
    """Change the emulator's fault knobs (latencyMs, jitterMs, errorRate, outage)."""
    async with (
        aiohttp.ClientSession() as session,
        session.put(f"{emulator.admin_url}/faults", json=faults) as response,
    ):
        assert response.status == 200, await response.text()


@pytest.fixture(scope="module")
def module_emulator() -> Iterator[launcher.RunningEmulator]:
    """One emulator for a whole test module (for tests that only read, or reset what they change)."""
    running = _start_emulator()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def module_sidecar(
    module_emulator: launcher.RunningEmulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[sidecar_launcher.RunningSidecar]:
    """One sidecar in front of ``module_emulator`` for a whole test module."""
    running = sidecar_launcher.start(
        upstream_env(module_emulator), tmp_path_factory.mktemp("sidecar") / "sidecar.log"
    )
    try:
        yield running
    finally:
        running.stop()
        assert API_KEY not in running.log(), "the API key leaked into the sidecar's log"


@pytest.fixture
def redis_server(tmp_path: pathlib.Path) -> Iterator[redis_server_module.RedisServer]:
    """A real redis-server on loopback, killed after the test."""
    server = redis_server_module.RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()
