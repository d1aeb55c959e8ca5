"""The HTTP port (``SIDECAR_HTTP_PORT``: ``/livez``, ``/readyz``, ``/metrics``), bounded so that
no client can hold it, or the descriptors the gRPC port needs, hostage.

* **Connection cap** (``SIDECAR_HTTP_MAX_CONNECTIONS``): a connection beyond it is closed as
  soon as it is accepted, so its descriptor is released at once (counted in
  ``sidecar_http_refused_connections_total``). A flood of this port cannot use up the process's
  descriptors; checks go on being answered on the gRPC port.
* **Request deadline** (``SIDECAR_HTTP_REQUEST_TIMEOUT_SECONDS``): a request's head must have
  arrived that long after the connection opened or the previous response went out (one timer
  per connection, which trickled bytes do not reset), and an idle keep-alive connection is
  closed after it. A body, which no handler here reads, is drained for at most that long after
  the answer (a lingering close, so that the answer is not lost to a reset), then the
  connection is closed.
* **Sizes**: a request line or header field of at most 4 KiB, at most 32 header fields (400
  beyond, and the connection is closed).

Only GET is served (405 otherwise, 404 for an unknown path). The server is a small HTTP/1.1
server of its own on ``asyncio`` (keep-alive, pipelining, ``Connection: close``, HTTP/1.0):
three fixed routes need nothing more, and aiohttp's costs the process about 10 MiB
(``bench/results/sidecar-memory.md``). Handlers return a ``Response`` (``json_response`` for
JSON).
"""

from __future__ import annotations

import asyncio
import dataclasses
import http
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import cast

from stigg_sidecar import promtext

logger = logging.getLogger(__name__)

_MAX_LINE_BYTES = 4096
_MAX_HEADERS = 32
# The longest head within those bounds; more buffered without its end is refused at once.
_MAX_HEAD_BYTES = (_MAX_HEADERS + 1) * (_MAX_LINE_BYTES + 2) + 2
_CRLF = b"\r\n"
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclasses.dataclass(frozen=True)
class Response:
    """An answer: its body, status, ``Content-Type`` and any further headers."""

    body: bytes
    status: int = 200
    content_type: str = "application/json; charset=utf-8"
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)


def json_response(data: object, *, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """``data`` as a JSON answer (``application/json; charset=utf-8``)."""
    return Response(json.dumps(data).encode(), status, headers=dict(headers or {}))


Handler = Callable[[], Awaitable[Response]]


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
        self.request_timeout = request_timeout
        self._gate = _Gate(self, max_connections, refused)
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
        """Stop accepting, let answers in progress finish (1 s at most), close every connection."""
        if self._listener is None:
            return
        self._listener.close()
        answering = [c.answering for c in self._gate.connections if c.answering is not None]
        if answering:
            await asyncio.wait(answering, timeout=1.0)
        for connection in list(self._gate.connections):
            connection.close()
        await self._listener.wait_closed()

    async def answer(self, method: str, path: str) -> Response:
        handler = self._routes.get(path)
        if handler is None:
            return json_response({"error": "not found"}, status=404)
        if method != "GET":
            return json_response({"error": "only GET"}, status=405, headers={"Allow": "GET"})
        return await handler()


class _Gate:
    """The protocol factory: one connection while fewer than ``cap`` are open, else a protocol
    that closes the connection at once."""

    def __init__(self, port: ProbePort, cap: int, refused: promtext.Counter) -> None:
        self._port = port
        self._cap = cap
        self._refused = refused
        self.connections: set[_Connection] = set()

    @property
    def open(self) -> int:
        return len(self.connections)

    def __call__(self) -> asyncio.Protocol:
        if self.open >= self._cap:
            self._refused.inc()
            return _Refused()
        connection = _Connection(self._port, self)
        self.connections.add(connection)
        return connection


class _Refused(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.abort()  # type: ignore[attr-defined]


class _BadRequest(Exception):
    pass


@dataclasses.dataclass(frozen=True)
class _Request:
    method: str
    path: str
    keep_alive: bool
    body_bytes: int | None  # None: of unknown length (chunked)


class _Connection(asyncio.Protocol):
    """One HTTP connection: reads request heads, answers them in order, and closes itself at the
    deadline."""

    def __init__(self, port: ProbePort, gate: _Gate) -> None:
        self._port = port
        self._gate = gate
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._deadline: asyncio.TimerHandle | None = None
        self._scanned = 0  # bytes of the buffer searched for the head's end
        self._draining: int | None = 0  # body bytes still to discard; None: until the end
        self._closing = False
        self._eof = False
        self.answering: asyncio.Task[None] | None = None

    # -- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # a TCP server's
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._closing:
            self._drain(data)
            return
        self._buffer += data
        if self.answering is None:
            self._next_request()
        elif len(self._buffer) > _MAX_HEAD_BYTES and self._transport is not None:
            self._transport.pause_reading()  # pipelined meanwhile: read on after the answer

    def eof_received(self) -> bool:
        self._eof = True
        if self.answering is None:
            self.close()
        return True  # half-closed: an answer in progress still goes out

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._gate.connections.discard(self)
        if self.answering is not None:
            self.answering.cancel()

    # -- requests ------------------------------------------------------------------------------

    def _next_request(self) -> None:
        try:
            request = self._parse_head()
        except _BadRequest as error:
            self._draining = None  # whatever follows is unknown: drain until the end or the deadline
            self._respond_and_close(json_response({"error": f"bad request: {error}"}, status=400), "")
            return
        if request is None:
            if self._eof:
                self.close()
            return
        self._disarm()  # the head arrived: the answer has no deadline of its own
        self.answering = asyncio.get_running_loop().create_task(self._answer(request))

    def _parse_head(self) -> _Request | None:
        """The next request's head, once complete (``None`` until then); raises ``_BadRequest``."""
        end = self._buffer.find(b"\r\n\r\n", max(0, self._scanned - 3))
        if end < 0:
            self._scanned = len(self._buffer)  # each byte is searched once, however it trickles in
            if len(self._buffer) > _MAX_HEAD_BYTES:
                raise _BadRequest("the request head is too large")
            return None
        self._scanned = 0
        head = bytes(self._buffer[:end])
        del self._buffer[: end + 4]
        request_line, *fields = head.split(_CRLF)
        if len(fields) > _MAX_HEADERS:
            raise _BadRequest(f"more than {_MAX_HEADERS} header fields")
        if any(len(line) > _MAX_LINE_BYTES for line in (request_line, *fields)):
            raise _BadRequest("a line is longer than 4096 bytes")
        try:
            method, target, version = request_line.decode("ascii").split(" ")
        except (UnicodeDecodeError, ValueError):
            raise _BadRequest("malformed request line") from None
        if version not in {"HTTP/1.0", "HTTP/1.1"}:
            raise _BadRequest(f"unsupported version {version!r}")
        headers: dict[str, str] = {}
        for field in fields:
            name, colon, value = field.decode("latin-1").partition(":")
            if not colon or not name or name != name.strip():
                raise _BadRequest("malformed header field")
            headers[name.lower()] = value.strip()
        connection = headers.get("connection", "").lower()
        keep_alive = "close" not in connection and (version == "HTTP/1.1" or "keep-alive" in connection)
        body_bytes: int | None = 0
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body_bytes = None
        elif "content-length" in headers:
            length = headers["content-length"]
            if not length.isdigit():
                raise _BadRequest("malformed Content-Length")
            body_bytes = int(length)
        path = target.split("?", 1)[0].split("#", 1)[0]
        if not path.startswith("/"):  # absolute form: http://host/path
            path = "/" + path.partition("://")[2].partition("/")[2]
        return _Request(method, path, keep_alive and body_bytes == 0, body_bytes)

    async def _answer(self, request: _Request) -> None:
        try:
            response = await self._port.answer(request.method, request.path)
        except Exception:
            logger.exception("the HTTP handler of %s failed", request.path)
            response = json_response({"error": "internal error"}, status=500)
        self.answering = None
        if not request.keep_alive or self._eof:
            self._draining = request.body_bytes
            self._respond_and_close(response, request.method)
            return
        self._write(response, request.method, keep_alive=True)
        self._arm()
        if self._transport is not None:
            self._transport.resume_reading()
        if self._buffer:
            self._next_request()

    # -- writing and closing -------------------------------------------------------------------

    def _write(self, response: Response, method: str, *, keep_alive: bool) -> None:
        if self._transport is None or self._transport.is_closing():
            return
        phrase = http.HTTPStatus(response.status).phrase
        headers = {
            "Content-Type": response.content_type,
            "Content-Length": str(len(response.body)),
            "Date": _http_date(),
            **({} if keep_alive else {"Connection": "close"}),
            **response.headers,
        }
        lines = [f"HTTP/1.1 {response.status} {phrase}", *(f"{k}: {v}" for k, v in headers.items())]
        head = "\r\n".join(lines) + "\r\n"
        body = b"" if method == "HEAD" else response.body  # HEAD: the headers of the answer only
        self._transport.write(head.encode("latin-1") + _CRLF + body)

    def _respond_and_close(self, response: Response, method: str) -> None:
        """Answer, then close: at once if nothing more may come, else after a lingering drain of
        what is still coming (the rest of a body), for at most the deadline."""
        self._write(response, method, keep_alive=False)
        self._closing = True
        unread, self._buffer = bytes(self._buffer), bytearray()
        if self._eof or self._draining == 0:
            self.close()
            return
        self._arm()
        self._drain(unread)

    def _drain(self, data: bytes) -> None:
        if self._draining is not None:
            self._draining -= len(data)
            if self._draining <= 0:
                self.close()

    def close(self) -> None:
        self._disarm()
        if self._transport is not None and not self._transport.is_closing():
            self._transport.close()

    def _arm(self) -> None:
        self._disarm()
        self._deadline = asyncio.get_running_loop().call_later(self._port.request_timeout, self.close)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None


def _http_date() -> str:
    """Now in HTTP's date format (RFC 9110), independent of the locale."""
    now = time.gmtime()
    return (
        f"{_DAYS[now.tm_wday]}, {now.tm_mday:02d} {_MONTHS[now.tm_mon - 1]} {now.tm_year} "
        f"{now.tm_hour:02d}:{now.tm_min:02d}:{now.tm_sec:02d} GMT"
    )
