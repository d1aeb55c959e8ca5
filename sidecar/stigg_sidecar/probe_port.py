"""The HTTP port (``SIDECAR_HTTP_PORT``: ``/livez``, ``/readyz``, ``/metrics``), bounded so that
no client can hold it, or the descriptors the gRPC port needs, hostage.

* **Connection cap** (``SIDECAR_HTTP_MAX_CONNECTIONS``): a connection beyond it is closed as
  soon as it is accepted, so its descriptor is released at once (counted in
  ``sidecar_http_refused_connections_total``). A flood of this port cannot use up the process's
  descriptors; checks go on being answered on the gRPC port.
* **Request deadline** (``SIDECAR_HTTP_REQUEST_TIMEOUT_SECONDS``): a request's head must have
  arrived that long after the connection opened or the previous response went out (aiohttp's
  keep-alive timer, which trickled bytes do not reset), and an idle keep-alive connection is
  closed after it. A body, which no handler here reads, is drained for at most that long after
  the answer (aiohttp's lingering close), then the connection is closed.
* **Sizes**: a request line or header field of at most 4 KiB, at most 32 header fields (aiohttp
  answers 400 beyond).

Only GET is served (405 otherwise, 404 for an unknown path). The server is aiohttp's low-level
``web.Server`` behind a protocol factory that counts connections (aiohttp has no cap of its own).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from stigg_sidecar import promtext

Handler = Callable[[], Awaitable[web.Response]]

_MAX_LINE_BYTES = 4096
_MAX_HEADERS = 32


class ProbePort:
    """Serves ``routes`` (path → handler) on ``host:port`` within the bounds above."""

    def __init__(
        self,
        routes: Mapping[str, Handler],
        *,
        max_connections: int,
        request_timeout: float,
        refused: promtext.Counter,
    ) -> None:
        self._routes = dict(routes)
        self._server = web.Server(
            self._handle,
            access_log=None,
            keepalive_timeout=request_timeout,
            lingering_time=request_timeout,
            max_line_size=_MAX_LINE_BYTES,
            max_field_size=_MAX_LINE_BYTES,
            max_headers=_MAX_HEADERS,
        )
        self._gate = _Gate(self._server, max_connections, refused)
        self._listener: asyncio.Server | None = None
        self.port = 0

    @property
    def connections(self) -> int:
        return self._gate.open

    async def start(self, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        self._listener = await loop.create_server(self._gate, host, port, reuse_address=True)
        self.port = int(self._listener.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.close()
            await self._server.shutdown(1.0)
            await self._listener.wait_closed()

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        handler = self._routes.get(request.path)
        if handler is None:
            return web.json_response({"error": "not found"}, status=404)
        if request.method != "GET":
            return web.json_response({"error": "only GET"}, status=405, headers={"Allow": "GET"})
        return await handler()


class _Gate:
    """The protocol factory: one aiohttp handler per connection while fewer than ``cap`` are
    open, else a protocol that closes the connection at once."""

    def __init__(self, server: web.Server, cap: int, refused: promtext.Counter) -> None:
        self._server = server
        self._cap = cap
        self._refused = refused
        self.open = 0

    def __call__(self) -> asyncio.Protocol:
        if self.open >= self._cap:
            self._refused.inc()
            return _Refused()
        self.open += 1
        return _Counted(self._server(), self)

    def closed(self) -> None:
        self.open -= 1


class _Refused(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.abort()  # type: ignore[attr-defined]


class _Counted(asyncio.Protocol):
    """aiohttp's handler for one connection, with the gate told when the connection ends."""

    def __init__(self, inner: asyncio.Protocol, gate: _Gate) -> None:
        self._inner = inner
        self._gate = gate

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self._gate.closed()
        self._inner.connection_lost(exc)
