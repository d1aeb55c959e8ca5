"""One gRPC connection cannot hold more than ``SIDECAR_GRPC_MAX_CONCURRENT_STREAMS`` calls: a
client that ignores the server's SETTINGS and opens 10,000 streams of headers only (a request
message never sent) gets every stream beyond the cap reset, and the sidecar's memory grows by
what the cap allows (measured: about 21 MiB for 1,000 streams; before, no cap: 74 MiB while
held and 213 MiB after the client left). Checks on other connections are answered meanwhile."""

from __future__ import annotations

import asyncio
import socket

import h2.config
import h2.connection
import h2.events

from stigg_devkit import sidecar_launcher
from stigg_emulator import launcher
from stigg_sidecar import client
from tests.integration.sidecar import conftest

STREAMS = 10_000
CAP = 1000
PATH = "/stigg.sidecar.v1.SidecarService/GetBooleanEntitlement"


def _rss_mib(sidecar: sidecar_launcher.RunningSidecar) -> float:
    with open(f"/proc/{sidecar.process.pid}/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def _open_header_only_streams(target: str) -> tuple[socket.socket, int]:
    """Open ``STREAMS`` streams on one connection without reading the server's SETTINGS first;
    the socket (still open) and how many streams the server reset."""
    host, port = target.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)))
    peer = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    peer.initiate_connection()
    headers = [
        (":method", "POST"),
        (":scheme", "http"),
        (":path", PATH),
        (":authority", target),
        ("content-type", "application/grpc"),
        ("te", "trailers"),
    ]
    for index in range(STREAMS):
        peer.send_headers(1 + 2 * index, headers, end_stream=False)
        if index % 100 == 99:
            sock.sendall(peer.data_to_send())
    sock.sendall(peer.data_to_send())
    reset = 0
    sock.settimeout(2)
    try:
        while reset < STREAMS - CAP and (data := sock.recv(65536)):
            reset += sum(isinstance(event, h2.events.StreamReset) for event in peer.receive_data(data))
            sock.sendall(peer.data_to_send())
    except TimeoutError:
        pass
    return sock, reset


async def test_streams_beyond_the_cap_are_reset(
    emulator: launcher.RunningEmulator, start_sidecar: conftest.SidecarFactory
) -> None:
    sidecar = start_sidecar(conftest.upstream_env(emulator))
    async with client.AsyncSidecarClient(sidecar.grpc_target, timeout=5) as stub:
        assert (await stub.get_boolean_entitlement("customer-pro", "feature-sso")).has_access
        before = _rss_mib(sidecar)
        sock, reset = await asyncio.to_thread(_open_header_only_streams, sidecar.grpc_target)
        try:
            assert reset >= STREAMS - CAP, f"only {reset} of {STREAMS} streams were reset"
            grown = _rss_mib(sidecar) - before
            assert grown < 40, f"the sidecar grew by {grown:.0f} MiB for one connection's streams"
            answer = await stub.get_boolean_entitlement("customer-enterprise", "feature-sso")
            assert answer.has_access
            assert not answer.is_fallback
        finally:
            sock.close()
