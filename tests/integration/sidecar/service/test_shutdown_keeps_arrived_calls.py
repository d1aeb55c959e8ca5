"""SIGTERM never cancels a call that arrived: 40 ReportUsage calls followed 10 to 30 ms later by
SIGTERM all succeed (before, 20 to 31 of them came back CANCELLED and the process exited in
0.3 s). Meanwhile the sidecar turns unready at once (``/readyz`` 503) yet keeps answering for
its shutdown delay, so Services stop routing to it first; then it drains and exits 0."""

from __future__ import annotations

import asyncio
import collections
import urllib.error
import urllib.request

import grpc
import pytest

from stigg_emulator import launcher
from stigg_sidecar import client
from tests.integration.sidecar import conftest

CALLS = 40
DELAY = 1.5  # SIDECAR_SHUTDOWN_DELAY_SECONDS here


def _ready_status(url: str) -> int:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=2) as answer:  # noqa: S310 -- loopback
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.parametrize("sigterm_after", [0.01, 0.02, 0.03])
async def test_calls_that_arrived_before_sigterm_all_succeed(
    sigterm_after: float, emulator: launcher.RunningEmulator, start_sidecar: conftest.SidecarFactory
) -> None:
    sidecar = start_sidecar({**conftest.upstream_env(emulator), "SIDECAR_SHUTDOWN_DELAY_SECONDS": str(DELAY)})
    outcomes: collections.Counter[str] = collections.Counter()
    async with client.AsyncSidecarClient(sidecar.grpc_target, timeout=10) as stub:
        await stub.report_usage("customer-free", "feature-api-calls", 1)  # the connection is up

        async def report() -> None:
            try:
                await stub.report_usage("customer-free", "feature-api-calls", 1)
                outcomes["OK"] += 1
            except grpc.aio.AioRpcError as error:
                outcomes[error.code().name] += 1

        calls = [asyncio.create_task(report()) for _ in range(CALLS)]
        await asyncio.sleep(sigterm_after)
        loop = asyncio.get_running_loop()
        signalled = loop.time()
        sidecar.terminate()
        await asyncio.gather(*calls)
        assert outcomes == {"OK": CALLS}

        await asyncio.sleep(0.3)
        assert await asyncio.to_thread(_ready_status, sidecar.http_url) == 503, "unready at once"
        late = await stub.get_boolean_entitlement("customer-pro", "feature-sso")
        assert late.has_access, "still answering during the shutdown delay"
    exit_code = await asyncio.to_thread(sidecar.process.wait, 20)
    assert exit_code == 0
    assert loop.time() - signalled >= DELAY, "it waited out the delay before stopping"
