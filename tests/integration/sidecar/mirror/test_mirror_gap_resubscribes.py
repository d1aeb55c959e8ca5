"""A client that sees a gap in a stream's sequence numbers stops answering from what it holds,
opens a new stream and subscribes everything again, and answers once the new stream has sent
the state. A real sidecar never skips a number, so the peer here is a stand-in: a scripted
gRPC server (real gRPC over loopback) that plays a sidecar whose first stream skips one."""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc

from stigg_devkit import waiting
from stigg_sidecar import model
from stigg_sidecar.mirror import client as mirrored_client
from stigg_sidecar.mirror import codec
from stigg_sidecar.v1 import mirror_pb2 as mpb
from stigg_sidecar.v1 import sidecar_pb2 as pb

KEY = model.CustomerKey("customer-1")
STATE = model.EntitlementState(
    KEY, {"feature-sso": model.Entitlement(model.Feature("feature-sso", model.FeatureType.BOOLEAN))}
)


class ScriptedSidecar:
    """Answers GetBooleanEntitlement (granted) and Follow: stream 1 sends 1 (status), 2 (the
    state), then 4; later streams send 1 and 2 only, then heartbeats."""

    def __init__(self) -> None:
        self.streams: list[list[mpb.FollowRequest]] = []
        self.skip = threading.Event()
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        handlers = {
            "Follow": grpc.stream_stream_rpc_method_handler(
                self._follow, mpb.FollowRequest.FromString, mpb.FollowResponse.SerializeToString
            )
        }
        checks = {
            "GetBooleanEntitlement": grpc.unary_unary_rpc_method_handler(
                lambda request, context: pb.GetBooleanEntitlementResponse(has_access=True),
                pb.GetBooleanEntitlementRequest.FromString,
                pb.GetBooleanEntitlementResponse.SerializeToString,
            )
        }
        self._server.add_generic_rpc_handlers(
            (
                grpc.method_handlers_generic_handler("stigg_sidecar.mirror.v1.MirrorService", handlers),
                grpc.method_handlers_generic_handler("stigg.sidecar.v1.SidecarService", checks),
            )
        )
        self.target = f"127.0.0.1:{self._server.add_insecure_port('127.0.0.1:0')}"
        self._server.start()

    def _follow(self, requests: Iterator[mpb.FollowRequest], context: Any) -> Iterator[mpb.FollowResponse]:
        received: list[mpb.FollowRequest] = []
        self.streams.append(received)
        first = len(self.streams) == 1
        subscribed: queue.SimpleQueue[None] = queue.SimpleQueue()

        def read() -> None:
            with contextlib.suppress(grpc.RpcError):  # the stream was cancelled
                for request in requests:
                    received.append(request)
                    subscribed.put(None)

        threading.Thread(target=read, daemon=True).start()
        status = mpb.Status(live_epoch=0, heartbeat_seconds=0.1)
        yield mpb.FollowResponse(sequence=1, status=status)
        subscribed.get(timeout=10)
        state = codec.state_message(STATE, fresh_for=60, current_epoch=0)
        yield mpb.FollowResponse(sequence=2, state=state)
        if first:
            self.skip.wait(10)
            yield mpb.FollowResponse(sequence=4, state=state)  # number 3 never comes
        sequence = 2
        while context.is_active():
            time.sleep(0.05)
            sequence += 1
            yield mpb.FollowResponse(sequence=sequence, status=status)

    def stop(self) -> None:
        self._server.stop(0)


def test_a_gap_means_a_new_stream_and_a_new_subscription() -> None:
    sidecar = ScriptedSidecar()
    try:
        with mirrored_client.MirroredSidecarClient(sidecar.target, timeout=2, staleness=2) as mirror:
            first = mirror.get_boolean_entitlement("customer-1", "feature-sso")
            assert not first.from_mirror
            waiting.wait_for(
                lambda: mirror.get_boolean_entitlement("customer-1", "feature-sso").from_mirror,
                timeout=5,
                what="the first stream's state",
            )
            sidecar.skip.set()
            waiting.wait_for(lambda: len(sidecar.streams) == 2, timeout=5, what="a second stream")
            assert mirror.replica.stats.gaps == 1
            waiting.wait_for(lambda: sidecar.streams[1], timeout=5, what="the second stream's subscription")
            assert [codec.key_of(k) for k in sidecar.streams[1][0].subscribe] == [KEY]
            waiting.wait_for(
                lambda: mirror.get_boolean_entitlement("customer-1", "feature-sso").from_mirror,
                timeout=5,
                what="answers from the new stream's state",
            )
    finally:
        sidecar.stop()
