"""A TCP forwarder between the host's loopback and the node's network namespace.

The node, its Pods and its Services live in a network namespace of their own, with no route
out; the host reaches into it (the apiserver for kubectl and the tests, a Pod's port) and it
reaches out to the host (the upstream emulator, at the node's address) only through these
forwarders: one process per forwarded address, listening on one side and connecting on the
other, bytes copied both ways. Nothing is routed or NATed, and the host side binds loopback
only.

    python -m stigg_localcluster.forward --netns /proc/<pid>/ns/net \\
        --listen host:127.0.0.1:6443 --connect node:127.0.0.1:6443 --ready-file F

``host`` is the forwarder's own namespace, ``node`` the one ``--netns`` names. The ready file
is written once the listening socket is bound, so a starter knows when to connect.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import pathlib
import signal
import socket
import sys
from collections.abc import Sequence

from stigg_localcluster import netns

CHUNK = 64 * 1024


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """``side:ip:port``, the side being ``host`` or ``node``."""

    side: str
    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> Endpoint:
        side, host, port = text.split(":")
        if side not in {"host", "node"}:
            raise ValueError(f"{text!r}: the side must be host or node")
        return cls(side, host, int(port))

    def __str__(self) -> str:
        return f"{self.side}:{self.host}:{self.port}"


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        writer.transport.abort()


async def _serve_one(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, target: Endpoint, path: str
) -> None:
    sock = netns.tcp_socket(path if target.side == "node" else None)
    sock.setblocking(False)
    try:
        await asyncio.get_running_loop().sock_connect(sock, (target.host, target.port))
    except OSError:
        sock.close()
        writer.transport.abort()
        return
    upstream_reader, upstream_writer = await asyncio.open_connection(sock=sock)
    try:
        await asyncio.gather(_pump(reader, upstream_writer), _pump(upstream_reader, writer))
    finally:
        for side in (writer, upstream_writer):
            side.transport.abort()


async def serve(listen: Endpoint, target: Endpoint, path: str, ready_file: pathlib.Path | None) -> None:
    listener = netns.tcp_socket(path if listen.side == "node" else None)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((listen.host, listen.port))
    listener.listen(128)
    listener.setblocking(False)
    server = await asyncio.start_server(
        lambda r, w: _serve_one(r, w, target, path), sock=listener, limit=CHUNK
    )
    if ready_file is not None:
        _write(ready_file, f"{listen} -> {target}\n")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with server:
        await stop.wait()


def _write(path: pathlib.Path, text: str) -> None:
    path.write_text(text)  # once, at start: a blocking write is harmless here


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stigg_localcluster.forward")
    parser.add_argument("--netns", required=True, help="the node's network namespace (/proc/<pid>/ns/net)")
    parser.add_argument("--listen", required=True, type=Endpoint.parse)
    parser.add_argument("--connect", required=True, type=Endpoint.parse)
    parser.add_argument("--ready-file", type=pathlib.Path)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.listen, args.connect, args.netns, args.ready_file))
    return 0


if __name__ == "__main__":
    sys.exit(main())
