"""A client that stops reading its stream cannot slow the sidecar or the other clients: its
stream is dropped once its buffer is full (RESOURCE_EXHAUSTED when it reads again), while a
client that reads keeps every change, in order and at once, and checks over gRPC stay quick."""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest

from stigg_devkit import sidecar_launcher, waiting
from stigg_emulator import launcher
from stigg_sidecar import client
from stigg_sidecar.mirror import client as mirrored_client
from stigg_sidecar.v1 import mirror_pb2 as mpb
from stigg_sidecar.v1 import mirror_pb2_grpc as mpb_grpc
from tests.integration.sidecar import conftest as sidecar_conftest
from tests.integration.sidecar.mirror import conftest

CUSTOMER, FEATURE = "customer-pro", "feature-api-calls"
REPORTS = 400
SLOW_READER = [
    ("grpc.use_local_subchannel_pool", 1),  # its own connection, as another process has
    ("grpc.http2.bdp_probe", 0),  # and a small receive window: what it does not read
    ("grpc.http2.lookahead_bytes", 4096),  # soon holds up the sidecar's writes to it
]


async def _read_all(call: grpc.aio.StreamStreamCall) -> None:  # type: ignore[type-arg]
    while True:
        await call.read()


@pytest.fixture
def small_buffer_sidecar(
    emulator: launcher.RunningEmulator, start_sidecar: sidecar_conftest.SidecarFactory
) -> sidecar_launcher.RunningSidecar:
    return sidecar_conftest.start_live_sidecar(
        start_sidecar,
        emulator,
        SIDECAR_MIRROR_BUFFER="16",
        SIDECAR_MIRROR_HEARTBEAT_SECONDS=conftest.HEARTBEAT,
    )


async def test_a_client_that_stops_reading_is_dropped_and_nobody_waits_for_it(
    small_buffer_sidecar: sidecar_launcher.RunningSidecar,
) -> None:
    target = small_buffer_sidecar.grpc_target
    async with (
        grpc.aio.insecure_channel(target, options=SLOW_READER) as slow_channel,
        mirrored_client.AsyncMirroredSidecarClient(target, timeout=5, staleness=2) as mirror,
        client.AsyncSidecarClient(target, timeout=5) as plain,
    ):
        await conftest.amirrored(lambda: mirror.get_metered_entitlement(CUSTOMER, FEATURE))
        subscribe = mpb.FollowRequest(subscribe=[mpb.CustomerKey(customer_id=CUSTOMER)])

        async def requests():  # type: ignore[no-untyped-def]
            yield subscribe
            await asyncio.sleep(3600)

        slow = mpb_grpc.MirrorServiceStub(slow_channel).Follow(
            requests(), metadata=(("stigg-mirror-stream", "slow"),)
        )
        first = await slow.read()  # it reads its first message, then nothing more
        assert first.sequence == 1

        async def both_follow() -> bool:  # awaited: a blocking wait would stall the mirror's reader
            return await asyncio.to_thread(small_buffer_sidecar.metric, "sidecar_mirror_streams") == 2

        await waiting.eventually(both_follow, within=5, what="2 streams")

        latencies = []
        for _ in range(REPORTS):
            written = await plain.report_usage(CUSTOMER, FEATURE, 1)
            started = time.perf_counter()
            await plain.get_boolean_entitlement(CUSTOMER, "feature-sso")
            latencies.append(time.perf_counter() - started)

            async def shown(usage: float | None = written.current_usage) -> bool:
                answer = await mirror.get_metered_entitlement(CUSTOMER, FEATURE)
                return answer.from_mirror and answer.response.entitlement.current_usage == usage

            try:
                await waiting.eventually(shown, within=10, interval=0.001, what="the reader to keep up")
            except AssertionError:
                last = await mirror.get_metered_entitlement(CUSTOMER, FEATURE)
                raise AssertionError(
                    f"the mirror shows {last.response.entitlement.current_usage} "
                    f"(from the mirror: {last.from_mirror}), the sidecar {written.current_usage}; "
                    f"{mirror.replica.stats}, heard within the bound: {mirror.replica.heard_within()}, "
                    f"dropped streams: {small_buffer_sidecar.metric('sidecar_mirror_dropped_streams_total')}"
                ) from None
        assert small_buffer_sidecar.metric("sidecar_mirror_dropped_streams_total") == 1
        assert small_buffer_sidecar.metric("sidecar_mirror_streams") == 1, "the reading client still follows"
        assert mirror.replica.stats.gaps == 0
        latencies.sort()
        assert latencies[len(latencies) // 2] < 0.02, "checks over gRPC stayed quick"

        with pytest.raises(grpc.aio.AioRpcError) as dropped:
            await _read_all(slow)
        assert dropped.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "too slowly" in (dropped.value.details() or "")
