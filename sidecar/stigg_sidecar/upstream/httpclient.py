"""A small HTTP/1.1 client on ``asyncio`` for the upstream's JSON APIs (``stigg.StiggUpstream``).

What the sidecar needs of one, and no more (aiohttp's client costs the process about 10 MiB,
``bench/results/sidecar-memory.md``; the real-time stream, when enabled, still uses aiohttp's
WebSocket client):

* **Connections** are kept alive and reused per scheme, host and port, at most ``limit`` of
  them at once (a request beyond waits for one); an idle one is dropped after ``idle_timeout``
  or as soon as the server has closed it. A request whose reused connection turns out closed by
  the server before any byte of the answer (keep-alive's race) is sent once more on a new
  connection if it is a GET; a POST is not (the caller's retries decide, with its idempotency
  keys).
* **HTTPS** with the system's certificate authorities, the host name checked (SNI).
* **Answers**: 1xx skipped, bodies by ``Content-Length``, ``chunked`` or until the server closes,
  ``gzip`` and ``deflate`` decoded, at most ``max_body`` bytes (decoded), at most 128 header
  fields of at most 64 KiB. No redirects are followed (the APIs have none).
* **Errors**: ``ConnectError`` when no connection could be made (so the request was never sent),
  ``ClientError`` for anything after (reset, closed early, a malformed answer). There is no
  timeout here: the caller bounds each request (``asyncio.timeout``); a connection interrupted
  mid-request is closed, never reused.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ssl
import time
import urllib.parse
import zlib
from collections.abc import Mapping

_DEFAULT_PORTS = {"http": 80, "https": 443}
_MAX_FIELDS = 128
_LINE_LIMIT = 64 << 10
_FORBIDDEN = ("\r", "\n", "\0")


class ClientError(Exception):
    """The request failed without an HTTP answer."""


class ConnectError(ClientError):
    """No connection could be made: the request was not sent."""


class _Stale(Exception):
    """A reused connection was closed by the server before any byte of the answer."""


@dataclasses.dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]  # names in lower case; repeated fields joined with ", "
    body: bytes


@dataclasses.dataclass
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    idle_since: float = 0.0

    def usable(self, idle_timeout: float) -> bool:
        return (
            not self.writer.is_closing()
            and not self.reader.at_eof()
            and time.monotonic() - self.idle_since < idle_timeout
        )

    def close(self) -> None:
        self.writer.close()


class Client:
    """Requests with ``headers`` added to each; ``close()`` when done."""

    def __init__(
        self,
        headers: Mapping[str, str],
        *,
        limit: int = 64,
        idle_timeout: float = 15.0,
        max_body: int = 64 << 20,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        for name, value in headers.items():
            if any(c in name or c in value for c in _FORBIDDEN) or not name or ":" in name:
                raise ValueError(f"invalid HTTP header {name!r}")  # never the value: it may be a key
        self._headers = {
            "User-Agent": "stigg-entitlements-sidecar",
            "Accept": "*/*",
            "Accept-Encoding": "gzip, deflate",
            **headers,
        }
        self._slots = asyncio.Semaphore(limit)
        self._limit = limit
        self._idle_timeout = idle_timeout
        self._max_body = max_body
        self._ssl = ssl_context
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self.closed = False

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        data: bytes | None = None,
    ) -> Response:
        if self.closed:
            raise ClientError("the HTTP client is closed")
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        host, port = parts.hostname, parts.port or _DEFAULT_PORTS[parts.scheme]
        query = "&".join(
            q for q in (parts.query, urllib.parse.urlencode(params or {}, quote_via=urllib.parse.quote)) if q
        )
        target = (parts.path or "/") + (f"?{query}" if query else "")
        host_header = parts.netloc.rpartition("@")[2]
        key = (parts.scheme, host, port)
        async with self._slots:
            for attempt in range(2):
                connection, reused = await self._connection(key)
                try:
                    response, reusable = await self._exchange(connection, method, host_header, target, data)
                except _Stale:
                    connection.close()
                    if method == "GET" and reused and attempt == 0:
                        continue
                    raise ClientError("the server closed the connection before answering") from None
                except BaseException:
                    connection.close()  # interrupted (an error, the caller's timeout): never reused
                    raise
                self._release(key, connection, reusable)
                return response
        raise AssertionError("unreachable")  # pragma: no cover

    async def close(self) -> None:
        self.closed = True
        connections = [c for idle in self._idle.values() for c in idle]
        self._idle.clear()
        for connection in connections:
            connection.close()
        if connections:
            with contextlib.suppress(Exception):
                await asyncio.wait(
                    [asyncio.ensure_future(c.writer.wait_closed()) for c in connections], timeout=1
                )

    # -- connections ---------------------------------------------------------------------------

    async def _connection(self, key: tuple[str, str, int]) -> tuple[_Connection, bool]:
        idle = self._idle.get(key, [])
        while idle:
            connection = idle.pop()
            if connection.usable(self._idle_timeout):
                return connection, True
            connection.close()
        scheme, host, port = key
        context = None
        if scheme == "https":
            if self._ssl is None:
                self._ssl = ssl.create_default_context()
            context = self._ssl
        try:
            reader, writer = await asyncio.open_connection(
                host,
                port,
                ssl=context,
                server_hostname=host if context is not None else None,
                happy_eyeballs_delay=0.25,
                limit=_LINE_LIMIT,
            )
        except OSError as error:  # refused, unreachable, unknown host, TLS (ssl.SSLError)
            raise ConnectError(f"cannot connect to {host}:{port}: {error}") from None
        return _Connection(reader, writer), False

    def _release(self, key: tuple[str, str, int], connection: _Connection, reusable: bool) -> None:
        total = sum(len(idle) for idle in self._idle.values())
        if not reusable or self.closed or total >= self._limit:
            connection.close()
            return
        connection.idle_since = time.monotonic()
        self._idle.setdefault(key, []).append(connection)

    # -- one request and its answer ------------------------------------------------------------

    async def _exchange(
        self, connection: _Connection, method: str, host: str, target: str, data: bytes | None
    ) -> tuple[Response, bool]:
        lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
        lines += [f"{name}: {value}" for name, value in self._headers.items()]
        if data is not None or method in {"POST", "PUT", "PATCH"}:
            lines.append(f"Content-Length: {len(data or b'')}")
        reader = connection.reader
        try:
            connection.writer.write("\r\n".join(lines).encode("latin-1") + b"\r\n\r\n" + (data or b""))
            await connection.writer.drain()
            first = await reader.readline()
        except (ConnectionResetError, BrokenPipeError):
            raise _Stale from None
        except (OSError, ValueError) as error:
            raise ClientError(f"{type(error).__name__}: {error}") from None
        if not first:
            raise _Stale
        try:
            return await self._answer(reader, method, first)
        except (asyncio.IncompleteReadError, OSError, ValueError, zlib.error) as error:
            detail = "the server closed the connection mid-answer" if isinstance(error, EOFError) else error
            raise ClientError(f"{type(error).__name__}: {detail}") from None

    async def _answer(self, reader: asyncio.StreamReader, method: str, first: bytes) -> tuple[Response, bool]:
        status_line = first
        while True:
            version, status = _status(status_line)
            headers = await _fields(reader)
            if not 100 <= status < 200:  # 1xx: an interim answer, the real one follows
                break
            status_line = await reader.readline()
            if not status_line:
                raise ValueError("the server closed the connection after an interim answer")
        connection = headers.get("connection", "").lower()
        reusable = "close" not in connection and (version == "HTTP/1.1" or "keep-alive" in connection)
        if method == "HEAD" or status in {204, 304}:
            body = b""
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            body = await self._chunked(reader)
        elif "content-length" in headers:
            length = headers["content-length"]
            if not length.isdigit():
                raise ValueError(f"malformed Content-Length {length[:20]!r}")
            if int(length) > self._max_body:
                raise ValueError(f"an answer of {int(length)} bytes, more than {self._max_body}")
            body = await reader.readexactly(int(length))
        else:  # delimited by the end of the connection
            body = await self._until_closed(reader)
            reusable = False
        return Response(status, headers, self._decoded(body, headers.get("content-encoding", ""))), reusable

    async def _until_closed(self, reader: asyncio.StreamReader) -> bytes:
        body = bytearray()
        while chunk := await reader.read(1 << 16):
            body += chunk
            if len(body) > self._max_body:
                raise ValueError(f"an answer of more than {self._max_body} bytes")
        return bytes(body)

    async def _chunked(self, reader: asyncio.StreamReader) -> bytes:
        body = bytearray()
        while True:
            size_line = (await reader.readline()).split(b";", 1)[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                raise ValueError(f"malformed chunk size {size_line[:20]!r}") from None
            if size == 0:
                await _fields(reader)  # trailers
                return bytes(body)
            if size < 0 or len(body) + size > self._max_body:
                raise ValueError(f"an answer of more than {self._max_body} bytes")
            body += await reader.readexactly(size)
            if await reader.readexactly(2) != b"\r\n":
                raise ValueError("a chunk not followed by CRLF")

    def _decoded(self, body: bytes, encoding: str) -> bytes:
        encoding = encoding.strip().lower()
        if encoding in {"", "identity"}:
            return body
        if encoding not in {"gzip", "x-gzip", "deflate"}:
            raise ValueError(f"unsupported Content-Encoding {encoding[:40]!r}")
        wbits = 16 + zlib.MAX_WBITS if encoding != "deflate" else zlib.MAX_WBITS
        if encoding == "deflate" and body[:1] and body[0] & 0x0F != 8:  # raw deflate, no zlib header
            wbits = -zlib.MAX_WBITS
        decoder = zlib.decompressobj(wbits)
        decoded = decoder.decompress(body, self._max_body + 1)
        if not decoder.unconsumed_tail:  # all of it decoded: what flush adds is what zlib holds
            decoded += decoder.flush()
        if len(decoded) > self._max_body or decoder.unconsumed_tail:
            raise ValueError(f"an answer of more than {self._max_body} bytes once decoded")
        return decoded


def _status(line: bytes) -> tuple[str, int]:
    parts = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
    if len(parts) < 2 or parts[0] not in {"HTTP/1.0", "HTTP/1.1"} or not parts[1].isdigit():
        raise ValueError(f"malformed status line {line[:40]!r}")
    return parts[0], int(parts[1])


async def _fields(reader: asyncio.StreamReader) -> dict[str, str]:
    fields: dict[str, str] = {}
    for _ in range(_MAX_FIELDS + 1):
        line = await reader.readline()
        if not line:
            raise asyncio.IncompleteReadError(b"", None)
        if line in {b"\r\n", b"\n"}:
            return fields
        name, colon, value = line.decode("latin-1").partition(":")
        if not colon:
            raise ValueError(f"malformed header field {line[:40]!r}")
        name = name.strip().lower()
        fields[name] = f"{fields[name]}, {value.strip()}" if name in fields else value.strip()
    raise ValueError(f"more than {_MAX_FIELDS} header fields")
