"""The servicer over real gRPC on loopback, in-process, wired to the read path and the write
path over an in-process stand-in for the upstream (named as such): a metered check is decided
by the rules on the stand-in's state, pending usage included; a bad field is INVALID_ARGUMENT
naming it; bytes that are not the request message are INVALID_ARGUMENT naming the message
(they were UNKNOWN, with a traceback logged per call); a write with no upstream (offline) is
UNAVAILABLE saying so."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest

from stigg_sidecar import metrics, servicer, writes
from stigg_sidecar.v1 import sidecar_pb2 as pb
from stigg_sidecar.v1 import sidecar_pb2_grpc as pb_grpc
from tests.unit.sidecar import standin_upstream

KEY, SEATS = standin_upstream.KEY, standin_upstream.SEATS


@pytest.fixture
async def target() -> AsyncIterator[str]:
    """The servicer served on a loopback port, as the server registers it."""
    sidecar = standin_upstream.make(standin_upstream.StandInUpstream())
    writer = writes.Writer(
        entitlements=sidecar.store,
        ledger=sidecar.ledger,
        usage_outbox=None,  # offline for writes
        wake_drainer=lambda: None,
    )
    server = grpc.aio.server()
    servicer.add_to_server(servicer.SidecarServicer(sidecar.checker, writer, metrics.Metrics()), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await server.stop(None)


@pytest.fixture
async def stub(target: str) -> AsyncIterator[pb_grpc.SidecarServiceStub]:
    async with grpc.aio.insecure_channel(target) as channel:
        yield pb_grpc.SidecarServiceStub(channel)


async def test_a_metered_check_is_decided_on_the_upstream_state(stub: pb_grpc.SidecarServiceStub) -> None:
    request = pb.GetMeteredEntitlementRequest(
        customer_id=KEY.customer_id,
        feature_id=SEATS.id,
        options=pb.MeteredEntitlementOptions(requested_usage=6),
    )
    answer = await stub.GetMeteredEntitlement(request)
    assert not answer.has_access, "6 seats requested, the stand-in's limit is 5"
    assert answer.entitlement.usage_limit == 5
    assert not answer.is_fallback
    request.options.requested_usage = 5
    assert (await stub.GetMeteredEntitlement(request)).has_access


async def test_an_empty_feature_id_is_invalid_argument_naming_the_field(
    stub: pb_grpc.SidecarServiceStub,
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await stub.GetBooleanEntitlement(pb.GetBooleanEntitlementRequest(customer_id="c", feature_id=" "))
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (failure.value.details() or "").startswith("feature_id:")


async def test_a_write_with_no_upstream_is_unavailable_saying_offline(
    stub: pb_grpc.SidecarServiceStub,
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await stub.ReportUsage(pb.ReportUsageRequest(customer_id="c", feature_id=SEATS.id, value=1))
    assert failure.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "offline" in (failure.value.details() or "")


@pytest.mark.parametrize("garbage", [b"\xff\xff\xff\xff", b"\x0a\x05ab"])
async def test_a_request_that_does_not_parse_is_invalid_argument(
    target: str, garbage: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    async with grpc.aio.insecure_channel(target) as channel:
        raw = channel.unary_unary("/stigg.sidecar.v1.SidecarService/GetBooleanEntitlement")
        with pytest.raises(grpc.aio.AioRpcError) as failure:
            await raw(garbage)
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (failure.value.details() or "").startswith(
        "the request is not a valid GetBooleanEntitlementRequest: "
    )
    assert not [r for r in caplog.records if r.levelno >= 40], "no ERROR (traceback) per call"
