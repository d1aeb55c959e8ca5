"""The upstream's HTTP client against scripted loopback servers: keep-alive reuse, the answer's
framings and encodings, keep-alive's race (a GET sent again, a POST not), the errors it tells
apart, the body bound, HTTPS with the host name checked, and a redirect refused."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import pathlib
import re
import ssl
import zlib
from collections.abc import AsyncIterator, Callable

import pytest

from stigg_operator import pki
from stigg_sidecar import metrics, model
from stigg_sidecar.upstream import base, breaker, httpclient, stigg


class _Close(bytes):
    """An answer after which the scripted server closes the connection."""


# A scripted server: called with (request number, the request's bytes); answers the bytes it
# returns (then keeps the connection, unless they are ``_Close``), or closes the connection
# without answering on None.
Script = Callable[[int, bytes], bytes | None]


class _Server:
    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests: list[bytes] = []
        self.connections = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                answer = self.script(len(self.requests), request)
                if answer is None:
                    break
                writer.write(answer)
                await writer.drain()
                if isinstance(answer, _Close):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@contextlib.asynccontextmanager
async def _serve(script: Script, context: ssl.SSLContext | None = None) -> AsyncIterator[tuple[_Server, int]]:
    server = _Server(script)
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0, ssl=context)
    try:
        yield server, listener.sockets[0].getsockname()[1]
    finally:
        listener.close()


def _ok(body: bytes, *extra: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), b"".join(extra), body)


@contextlib.asynccontextmanager
async def _client(**options: object) -> AsyncIterator[httpclient.Client]:
    client = httpclient.Client({"X-API-KEY": "sk-test"}, **options)  # type: ignore[arg-type]
    try:
        yield client
    finally:
        await client.close()


async def test_requests_share_one_kept_alive_connection_and_carry_the_headers() -> None:
    async with _serve(lambda n, _: _ok(b'{"n": %d}' % n)) as (server, port), _client() as client:
        first = await client.request("GET", f"http://127.0.0.1:{port}/v1/c/a%2Fb/x.json", params={"r": "w 1"})
        second = await client.request("POST", f"http://127.0.0.1:{port}/graphql", data=b"{}")
    assert (first.status, first.body, second.body) == (200, b'{"n": 1}', b'{"n": 2}')
    assert server.connections == 1
    get, post = server.requests
    assert get.startswith(b"GET /v1/c/a%2Fb/x.json?r=w%201 HTTP/1.1\r\n")
    assert f"Host: 127.0.0.1:{port}\r\n".encode() in get
    assert b"X-API-KEY: sk-test\r\n" in get
    assert b"Content-Length" not in get
    assert post.endswith(b"Content-Length: 2\r\n\r\n{}")


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
         b"4;x=y\r\nabcd\r\n2\r\nef\r\n0\r\nT: 1\r\n\r\n", b"abcdef"),
        (_ok(gzip.compress(b"zipped"), b"Content-Encoding: gzip\r\n"), b"zipped"),
        (_ok(zlib.compress(b"deflated"), b"Content-Encoding: deflate\r\n"), b"deflated"),
        (_ok(zlib.compress(b"raw")[2:-4], b"Content-Encoding: deflate\r\n"), b"raw"),
        (b"HTTP/1.1 100 Continue\r\n\r\n" + _ok(b"after"), b"after"),
        (b"HTTP/1.1 204 No Content\r\n\r\n", b""),
    ],
    ids=["chunked", "gzip", "deflate", "raw deflate", "1xx", "204"],
)  # fmt: skip
async def test_answer_framings_and_encodings(answer: bytes, expected: bytes) -> None:
    async with _serve(lambda _n, _r: answer) as (server, port), _client() as client:
        assert (await client.request("GET", f"http://127.0.0.1:{port}/")).body == expected
        assert (await client.request("GET", f"http://127.0.0.1:{port}/")).body == expected
    assert server.connections == 1, "each framing leaves the connection reusable"


async def test_a_body_until_the_end_of_the_connection_or_a_close_is_not_reused() -> None:
    answers = [_Close(b"HTTP/1.1 200 OK\r\n\r\nno length"), _ok(b"bye", b"Connection: close\r\n"), _ok(b"ok")]
    async with _serve(lambda n, _r: answers[n - 1]) as (server, port), _client() as client:
        url = f"http://127.0.0.1:{port}/"
        assert (await client.request("GET", url)).body == b"no length"
        assert (await client.request("GET", url)).body == b"bye"
        assert (await client.request("GET", url)).body == b"ok"
    assert server.connections == 3


def _drop_the_second(n: int, _request: bytes) -> bytes | None:
    return None if n == 2 else _ok(b"%d" % n)


async def test_a_get_on_a_connection_the_server_closed_meanwhile_is_sent_once_more() -> None:
    # The server answers the first request, then drops the kept-alive connection without a word
    # when the second arrives (keep-alive's race), and answers on a new connection.
    async with (
        _serve(lambda n, _r: None if n == 2 else _ok(b"%d" % n)) as (server, port),
        _client() as client,
    ):
        url = f"http://127.0.0.1:{port}/"
        assert (await client.request("GET", url)).body == b"1"
        assert (await client.request("GET", url)).body == b"3"
    assert server.connections == 2


async def test_a_post_on_such_a_connection_is_not_sent_again() -> None:
    async with (
        _serve(lambda n, _r: None if n == 2 else _ok(b"%d" % n)) as (server, port),
        _client() as client,
    ):
        url = f"http://127.0.0.1:{port}/graphql"
        await client.request("POST", url, data=b"{}")
        with pytest.raises(httpclient.ClientError, match="closed the connection") as raised:
            await client.request("POST", url, data=b"{}")
        assert not isinstance(raised.value, httpclient.ConnectError), "it may have been applied"
    assert len(server.requests) == 2


async def test_errors_tell_a_refused_connection_from_a_broken_answer() -> None:
    async with _serve(lambda _n, _r: None) as (_, port):
        pass  # the port is free again
    async with _client() as client:
        with pytest.raises(httpclient.ConnectError, match="cannot connect"):
            await client.request("GET", f"http://127.0.0.1:{port}/")


@pytest.mark.parametrize(
    "answer",
    [
        None,
        b"SPDY/9 200\r\n\r\n",
        _Close(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"),
        _Close(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
        _ok(b"x" * 2000),
        _Close(b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 2000),
        _ok(gzip.compress(b"x" * 5000), b"Content-Encoding: gzip\r\n"),
        _ok(b"x", b"Content-Encoding: br\r\n"),
    ],
    ids=["closed", "garbage", "truncated", "bad chunk", "too large", "too large until closed", "gzip bomb",
         "unknown encoding"],
)  # fmt: skip
async def test_a_broken_answer_is_a_client_error_not_a_connect_error(answer: bytes | None) -> None:
    async with _serve(lambda _n, _r: answer) as (_, port), _client(max_body=1000) as client:
        with pytest.raises(httpclient.ClientError) as raised:
            await client.request("GET", f"http://127.0.0.1:{port}/")
        assert not isinstance(raised.value, httpclient.ConnectError), "the request was sent"


async def test_the_callers_timeout_closes_the_connection_it_interrupted() -> None:
    def script(n: int, _request: bytes) -> bytes | None:
        return b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab" if n == 1 else _ok(b"fresh")

    async with _serve(script) as (server, port), _client() as client:
        url = f"http://127.0.0.1:{port}/"
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.3):
                await client.request("GET", url)
        assert (await client.request("GET", url)).body == b"fresh"
    assert server.connections == 2, "the interrupted connection was not reused"


async def test_https_checks_the_servers_name(tmp_path: pathlib.Path) -> None:
    authority = pki.CertificateAuthority.create()
    serving = authority.issue_serving("localhost", ["localhost"])
    cert, key = serving.write(tmp_path, "serving")
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    (tmp_path / "ca.pem").write_bytes(authority.cert_pem)
    trusting = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
    async with _serve(lambda _n, _r: _ok(b"secret"), server_context) as (_, port):
        async with _client(ssl_context=trusting) as client:
            assert (await client.request("GET", f"https://localhost:{port}/")).body == b"secret"
            with pytest.raises(httpclient.ConnectError, match="certificate"):
                await client.request("GET", f"https://127.0.0.1:{port}/")  # not the certificate's name
        async with _client() as client:  # the system's authorities do not know this one
            with pytest.raises(httpclient.ConnectError, match="certificate"):
                await client.request("GET", f"https://localhost:{port}/")


def test_a_header_with_a_line_break_is_refused_without_its_value() -> None:
    with pytest.raises(ValueError, match="X-API-KEY") as raised:
        httpclient.Client({"X-API-KEY": "sk-a\r\nX-Evil: 1"})
    assert "sk-a" not in str(raised.value)


async def test_the_upstream_refuses_a_redirect_naming_its_target_without_following_it() -> None:
    redirect = b"HTTP/1.1 301 Moved\r\nLocation: https://elsewhere.example/v1\r\nContent-Length: 0\r\n\r\n"
    async with _serve(lambda _n, _r: redirect) as (server, port):
        url = f"http://127.0.0.1:{port}"
        upstream = stigg.StiggUpstream(
            api_key="sk-test",
            api_url=url,
            edge_enabled=True,
            edge_api_url=url,
            timeout=2,
            retries=2,
            circuit=breaker.Breaker(failures=2, reset_after=60),
            sidecar_metrics=metrics.Metrics(),
        )
        try:
            with pytest.raises(
                base.UpstreamRejected, match=re.escape("HTTP 301 to 'https://elsewhere.example/v1'")
            ):
                await upstream.fetch(model.CustomerKey("customer-1"))
        finally:
            await upstream.close()
    assert len(server.requests) == 1, "not retried, not followed"
