"""The gRPC server does not let a client hold a connection open forever: one left idle is
closed by the server after ``SIDECAR_GRPC_MAX_CONNECTION_IDLE_SECONDS`` (before: never), the
client reconnecting on its next call."""

from __future__ import annotations

import asyncio

import grpc

from stigg_devkit import waiting
from stigg_emulator import launcher
from stigg_sidecar import client
from tests.integration.sidecar import conftest


async def test_an_idle_connection_is_closed_by_the_server(
    emulator: launcher.RunningEmulator, start_sidecar: conftest.SidecarFactory
) -> None:
    sidecar = start_sidecar(
        {**conftest.upstream_env(emulator), "SIDECAR_GRPC_MAX_CONNECTION_IDLE_SECONDS": "1"}
    )
    channel = grpc.aio.insecure_channel(sidecar.grpc_target)  # its connectivity shows the GOAWAY
    async with client.AsyncSidecarClient(channel=channel, timeout=5) as stub:
        assert (await stub.get_boolean_entitlement("customer-pro", "feature-sso")).has_access
        assert channel.get_state() == grpc.ChannelConnectivity.READY
        await waiting.eventually(
            lambda: asyncio.sleep(0.1, channel.get_state() == grpc.ChannelConnectivity.IDLE),
            within=10,
            what="the server to close the idle connection",
        )
        assert (await stub.get_boolean_entitlement("customer-pro", "feature-sso")).has_access, "reconnects"
