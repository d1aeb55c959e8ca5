"""A reported usage is counted once, at every moment: with the stream live and the upstream
100 ms away, each DELTA report is followed by checks every few milliseconds for 500 ms, and
every one shows the base plus the reports so far; the same across a stream drop and resync,
and across a SIGKILL and restart with reports still in the outbox.

Before, the usage event (which already includes the report) arrived while the report was still
pending, and the replay counted it again: base+2 after +1, for about 105 to 210 ms."""

from __future__ import annotations

import asyncio
import pathlib
import time

from stigg_devkit import waiting
from stigg_emulator import catalog, launcher
from stigg_sidecar import client
from tests.integration.sidecar import conftest

CUSTOMER, FEATURE = "customer-pro", "feature-api-calls"
REPORTS = 30  # bench/usage_consistency.py runs 200 (make bench)
WATCH_SECONDS = 0.5


async def _used(stub: client.AsyncSidecarClient) -> float:
    answer = await stub.get_metered_entitlement(CUSTOMER, FEATURE)
    return answer.entitlement.current_usage


async def _watch(stub: client.AsyncSidecarClient, expected: float, seconds: float) -> list[float]:
    """Checks every few milliseconds for ``seconds``; every usage seen that is not ``expected``."""
    wrong = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if (seen := await _used(stub)) != expected:
            wrong.append(seen)
        await asyncio.sleep(0.003)
    return wrong


async def test_reports_are_counted_once_while_the_stream_is_live(
    start_sidecar: conftest.SidecarFactory,
) -> None:
    emulator = launcher.start(catalog_path=catalog.SAMPLE_PATH, latency_ms=100, api_key=conftest.API_KEY)
    try:
        sidecar = conftest.start_live_sidecar(start_sidecar, emulator)
        async with client.AsyncSidecarClient(sidecar.grpc_target, timeout=10) as stub:
            base = await _used(stub)
            wrong: dict[int, list[float]] = {}
            for index in range(1, REPORTS + 1):
                await stub.report_usage(CUSTOMER, FEATURE, 1)
                if index == REPORTS // 2:  # a stream drop and resync half-way
                    await conftest.emulator_admin(emulator, "POST", "stream/drop")
                if seen := await _watch(stub, base + index, WATCH_SECONDS):
                    wrong[index] = seen
            assert not wrong, f"usage other than base + reports so far: {wrong}"
            assert sidecar.metric("sidecar_stream_resyncs_total") >= 2, "the stream dropped and resynced"
    finally:
        emulator.stop()


async def test_reports_left_in_the_outbox_are_counted_once_after_a_restart(
    start_sidecar: conftest.SidecarFactory, tmp_path: pathlib.Path
) -> None:
    emulator = launcher.start(catalog_path=catalog.SAMPLE_PATH, latency_ms=100, api_key=conftest.API_KEY)
    try:
        env = {"SIDECAR_STATE_DIR": str(tmp_path / "state")}
        sidecar = conftest.start_live_sidecar(start_sidecar, emulator, **env)
        async with client.AsyncSidecarClient(sidecar.grpc_target, timeout=10) as stub:
            base = await _used(stub)
            await conftest.set_faults(emulator, writeOutage=True)
            for _ in range(5):
                await stub.report_usage(CUSTOMER, FEATURE, 1)
            assert await _used(stub) == base + 5
        sidecar.process.kill()  # the five reports are only in the outbox, some sent and refused
        sidecar.process.wait()
        await conftest.set_faults(emulator, writeOutage=False)
        sidecar = conftest.start_live_sidecar(start_sidecar, emulator, **env)
        async with client.AsyncSidecarClient(sidecar.grpc_target, timeout=10) as stub:
            wrong = await _watch(stub, base + 5, 2.0)  # through the drain and its usage events
            assert not wrong, f"usage other than base + 5 after the restart: {wrong}"
            waiting.wait_for(
                lambda: sidecar.metric("sidecar_outbox_depth") == 0, timeout=10, what="the outbox to drain"
            )
            assert (await conftest.upstream_usage(emulator, CUSTOMER))[FEATURE] == base + 5
    finally:
        emulator.stop()
