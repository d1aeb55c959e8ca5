"""The ``stigg_sidecar.mirror.v1.MirrorService`` servicer: Follow streams over the ``hub``.

A thin adapter. One task reads the client's FollowRequests and (un)subscribes them; the call
itself sends the stream's buffered messages, already serialized and framed by the hub (so
``add_to_server`` registers Follow with an identity serializer), and a heartbeat after the
hub's interval without a message. Errors end the call with a status naming the cause:

* a request that does not parse, or a key the sidecar would refuse (blank, too long):
  INVALID_ARGUMENT naming the field (``subscribe[2].customer_id``);
* more keys than the hub follows per stream, or a client too slow for its buffer:
  RESOURCE_EXHAUSTED (the client subscribes again);
* the sidecar shutting down: UNAVAILABLE;
* a stream id longer than 64 characters: INVALID_ARGUMENT.

The stream id is the client's (``stigg-mirror-stream`` metadata; a new one per stream), so a
write can name the stream it wants to read its own write on (``servicer``'s ReportUsage).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import grpc
from google.protobuf import message as protobuf_message

from stigg_sidecar import wire
from stigg_sidecar.mirror import codec, hub
from stigg_sidecar.v1 import mirror_pb2 as mpb

MAX_STREAM_ID = 64
SERVICE_NAME = mpb.DESCRIPTOR.services_by_name["MirrorService"].full_name
Context = grpc.aio.ServicerContext[Any, Any]


class _Refused(Exception):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        self.code = code


def _parse(data: bytes) -> mpb.FollowRequest | _Refused:
    try:
        return mpb.FollowRequest.FromString(data)
    except protobuf_message.DecodeError as error:
        return _Refused(
            grpc.StatusCode.INVALID_ARGUMENT, f"the request is not a valid FollowRequest: {str(error)[:200]}"
        )


def stream_id_of(context: Context) -> str | None:
    """The ``stigg-mirror-stream`` a call names, if any."""
    for key, value in context.invocation_metadata() or ():
        if key == codec.STREAM_METADATA:
            return str(value)
    return None


class MirrorServicer:
    def __init__(self, mirror: hub.Hub) -> None:
        self.hub = mirror

    async def Follow(
        self, requests: AsyncIterator[mpb.FollowRequest | _Refused], context: Context
    ) -> AsyncIterator[bytes]:
        stream_id = stream_id_of(context) or uuid.uuid4().hex
        if len(stream_id) > MAX_STREAM_ID:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"{codec.STREAM_METADATA}: must be at most {MAX_STREAM_ID} characters, got {len(stream_id)}",
            )
        stream = self.hub.open(stream_id)
        refused: asyncio.Future[_Refused] = asyncio.get_running_loop().create_future()
        reader = asyncio.create_task(self._read(requests, stream, refused))
        try:
            while not refused.done():
                try:
                    framed = await stream.next(self.hub.heartbeat)
                except hub.Ended as error:
                    await context.abort(getattr(grpc.StatusCode, error.code), str(error))
                if framed is None:
                    if not refused.done():
                        self.hub.heartbeat_of(stream)
                    continue
                yield framed
            failure = refused.result()
            await context.abort(failure.code, str(failure))
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            self.hub.close(stream)

    async def _read(
        self,
        requests: AsyncIterator[mpb.FollowRequest | _Refused],
        stream: hub.Stream,
        refused: asyncio.Future[_Refused],
    ) -> None:
        """(Un)subscribe what the client asks, until it half-closes or a request is refused."""
        try:
            async for request in requests:
                if isinstance(request, _Refused):
                    raise request
                try:
                    subscribe = [
                        codec.requested_key(k, f"subscribe[{i}]") for i, k in enumerate(request.subscribe)
                    ]
                    unsubscribe = [
                        codec.requested_key(k, f"unsubscribe[{i}]") for i, k in enumerate(request.unsubscribe)
                    ]
                except wire.InvalidRequest as error:
                    raise _Refused(grpc.StatusCode.INVALID_ARGUMENT, str(error)) from None
                self.hub.unsubscribe(stream, unsubscribe)
                try:
                    self.hub.subscribe(stream, subscribe)
                except hub.TooManyKeys as error:
                    raise _Refused(grpc.StatusCode.RESOURCE_EXHAUSTED, str(error)) from None
                if stream.ended is not None:
                    return
        except _Refused as error:
            refused.set_result(error)
            stream.wake()


def add_to_server(servicer: MirrorServicer, server: grpc.aio.Server) -> None:
    """Register MirrorService; Follow sends the hub's framed bytes as they are."""
    handler = grpc.stream_stream_rpc_method_handler(
        servicer.Follow, request_deserializer=_parse, response_serializer=lambda framed: framed
    )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(SERVICE_NAME, {"Follow": handler}),)
    )
