"""Fixtures for the emulator's tests: the emulator as a real process on loopback.

One process serves the session (``emulator_process``, started exactly as a person would:
``python -m stigg_emulator --port 0 --latency-ms 0 --catalog <sample>``); the
``upstream`` fixture resets it through ``POST /_emulator/reset`` before each test, so every
test starts from the sample catalog with zero counters and no faults.

``rated_emulator`` is an emulator of the test's own, serving a copy of the sample (that the test
may edit and reload) where a Pro API call costs 2 AI credits. ``stigg_python_client`` and
``stigg_node_sdk`` install Stigg's own clients outside git, once
(``stigg_devkit.stigg_sdks``), for the tests that use them as peers.
"""

from __future__ import annotations

import pathlib
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest

from stigg_devkit import stigg_sdks
from stigg_emulator import catalog, launcher
from tests.integration.emulator import upstream as upstream_client

API_KEY = "test-server-key-3f9a"


@pytest.fixture(scope="session")
def emulator_process() -> Iterator[launcher.RunningEmulator]:
    running = launcher.start(catalog_path=catalog.SAMPLE_PATH, latency_ms=0, api_key=API_KEY)
    try:
        yield running
    finally:
        assert running.stop() == 0, "the emulator did not exit cleanly on SIGTERM"


@pytest.fixture
def emulator_url(emulator_process: launcher.RunningEmulator) -> str:
    return emulator_process.base_url


@pytest.fixture
async def upstream(emulator_url: str) -> AsyncIterator[upstream_client.Upstream]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        client = upstream_client.Upstream(base_url=emulator_url, api_key=API_KEY, session=session)
        status, _ = await client.admin("POST", "reset")
        assert status == 200
        yield client


@pytest.fixture(scope="session")
def stigg_python_client() -> pathlib.Path:
    """The ``python`` of the environment of Stigg's Python clients, which holds its API client
    (installed once; the sidecar SDK's tests share it)."""
    return stigg_sdks.python_clients()


@pytest.fixture(scope="session")
def stigg_node_sdk() -> pathlib.Path:
    """The folder whose ``node_modules`` holds Stigg's Node server SDK (installed once)."""
    return stigg_sdks.node_server_sdk()


@pytest.fixture
async def rated_emulator(
    tmp_path: pathlib.Path,
) -> AsyncIterator[tuple[pathlib.Path, upstream_client.Upstream]]:
    path = tmp_path / "catalog.yaml"
    upstream_client.write_sample_with_credit_rate(path)
    with launcher.start(catalog_path=path, latency_ms=0, api_key=API_KEY) as running:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            yield path, upstream_client.Upstream(base_url=running.base_url, api_key=API_KEY, session=session)
