"""10,000 usage reports reach the upstream exactly once, although the upstream is down for part
of the run and the sidecar is killed with SIGKILL once: the durable outbox keeps what it
accepted, and the idempotency key each report carries upstream keeps a resend from counting."""

from __future__ import annotations

import asyncio
import pathlib

import pytest

from stigg_emulator import launcher
from stigg_sidecar import client
from stigg_sidecar.v1 import sidecar_pb2 as pb
from tests.integration.sidecar import conftest

BATCHES, PER_BATCH = 100, 100
START = 250  # customer-free's api-calls usage in the sample catalog


async def _upstream_usage(emulator: launcher.RunningEmulator) -> float:
    return (await conftest.upstream_usage(emulator, "customer-free")).get("feature-api-calls", 0)


@pytest.mark.slow
async def test_ten_thousand_reports_exactly_once(
    tmp_path: pathlib.Path, emulator: launcher.RunningEmulator, start_sidecar: conftest.SidecarFactory
) -> None:
    env = {**conftest.upstream_env(emulator), "SIDECAR_STATE_DIR": str(tmp_path / "state")}
    sidecar = start_sidecar(env)
    stub = client.AsyncSidecarClient(sidecar.grpc_target, timeout=10)
    batch = [
        pb.ReportUsageRequest(customer_id="customer-free", feature_id="feature-api-calls", value=1)
    ] * PER_BATCH
    try:
        for number in range(BATCHES):
            if number == 20:
                await conftest.set_faults(emulator, outage=True)
            if number == 50:
                sidecar.process.kill()  # SIGKILL: no drain, no goodbye
                sidecar.process.wait()
                await stub.close()
                sidecar = start_sidecar(env)  # same state volume
                stub = client.AsyncSidecarClient(sidecar.grpc_target, timeout=10)
            if number == 70:
                await conftest.set_faults(emulator, outage=False)
            accepted = await stub.report_usage_bulk(batch)
            assert len(accepted.usages) == PER_BATCH
    finally:
        await stub.close()

    deadline = asyncio.get_running_loop().time() + 60
    while await _upstream_usage(emulator) < START + BATCHES * PER_BATCH:
        assert asyncio.get_running_loop().time() < deadline, (
            f"delivered so far: {await _upstream_usage(emulator)}"
        )
        await asyncio.sleep(0.2)
    await asyncio.sleep(1.5)  # anything counted twice would show up now
    assert await _upstream_usage(emulator) == START + BATCHES * PER_BATCH
    assert sidecar.metric("sidecar_outbox_depth") == 0
    assert sidecar.metric("sidecar_outbox_rejected_total") == 0
