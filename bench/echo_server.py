"""The floor: a trivial grpc.aio server with the sidecar's interface, answering every
GetBooleanEntitlement from a dict of prebuilt responses. Same language, same gRPC stack, no
work: whatever the sidecar costs beyond this is the sidecar's own.

    python bench/echo_server.py PORT
"""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import Any

import grpc

from stigg_sidecar.v1 import sidecar_pb2 as pb
from stigg_sidecar.v1 import sidecar_pb2_grpc as pb_grpc

ANSWER = pb.GetBooleanEntitlementResponse(
    has_access=True, entitlement=pb.BooleanEntitlement(feature=pb.EntitlementFeature(id="feature-sso"))
)


class Echo(pb_grpc.SidecarServiceServicer):
    def __init__(self) -> None:
        self.answers = {"feature-sso": ANSWER}

    async def GetBooleanEntitlement(
        self, request: pb.GetBooleanEntitlementRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.GetBooleanEntitlementResponse:
        return self.answers[request.feature_id]


async def main(port: int) -> None:
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    pb_grpc.add_SidecarServiceServicer_to_server(Echo(), server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    print("ready", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await server.stop(1)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
