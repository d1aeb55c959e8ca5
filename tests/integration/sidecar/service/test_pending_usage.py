"""Usage the sidecar accepted but the upstream does not have yet (its writes are down) stays in
the sidecar's answers: through a refetch of the customer, and through a SIGKILL and restart
(the outbox's rows are read back); once the upstream has it, it is counted once."""

from __future__ import annotations

import pathlib

from stigg_devkit import waiting
from stigg_emulator import launcher
from stigg_sidecar import client
from tests.integration.sidecar import conftest
from tests.integration.sidecar import redis_server as redis_server_module


async def _calls_used(stub: client.AsyncSidecarClient) -> float:
    answer = await stub.get_metered_entitlement("customer-free", "feature-api-calls")
    return answer.entitlement.current_usage


async def test_pending_usage_survives_a_refetch_and_a_restart(
    emulator: launcher.RunningEmulator, start_sidecar: conftest.SidecarFactory, tmp_path: pathlib.Path
) -> None:
    env = {**conftest.upstream_env(emulator), "SIDECAR_STATE_DIR": str(tmp_path / "state")}
    sidecar = start_sidecar(env)
    async with client.AsyncSidecarClient(sidecar.grpc_target, timeout=10) as stub:
        assert await _calls_used(stub) == 250
        await conftest.set_faults(emulator, writeOutage=True)  # reads work, writes do not
        reported = await stub.report_usage("customer-free", "feature-api-calls", 40)
        assert reported.current_usage == 290
        await stub.report_usage("customer-free", "feature-api-calls", 10)
        reloaded = await stub.reload_entitlements("customer-free")
        assert reloaded is not None
        assert await _calls_used(stub) == 300, "a refetch replays the usage the upstream does not have yet"
    assert sidecar.metric("sidecar_outbox_depth") == 2

    sidecar.process.kill()  # SIGKILL: the two reports are only in the outbox
    sidecar.process.wait()
    sidecar = start_sidecar(env)
    async with client.AsyncSidecarClient(sidecar.grpc_target, timeout=10) as stub:
        assert await _calls_used(stub) == 300, "read back from the outbox at start"
        await conftest.set_faults(emulator, writeOutage=False)
        waiting.wait_for(
            lambda: sidecar.metric("sidecar_outbox_depth") == 0, timeout=15, what="the outbox to drain"
        )
        usage = (await conftest.emulator_admin(emulator, "GET", "usage/customer-free"))[1]
        assert isinstance(usage, dict)
        assert usage["usage"]["feature-api-calls"] == 300
        await stub.reload_entitlements("customer-free")
        assert await _calls_used(stub) == 300, "counted once: the upstream has it, nothing pending"


async def test_redis_holds_what_the_upstream_says_so_a_restart_replays_pending_usage_once(
    emulator: launcher.RunningEmulator,
    start_sidecar: conftest.SidecarFactory,
    redis_server: redis_server_module.RedisServer,
    tmp_path: pathlib.Path,
) -> None:
    """An event for a customer with pending usage reaches Redis as the upstream said it: had it
    the pending usage replayed in, the restarted sidecar (which replays its outbox on whatever
    Redis holds) would count that usage twice."""
    env = {
        **redis_server_module.env(conftest.stream_env(emulator), redis_server),
        "SIDECAR_STATE_DIR": str(tmp_path / "state"),
    }
    sidecar = conftest.start_live_sidecar(start_sidecar, emulator, **env)
    async with client.AsyncSidecarClient(sidecar.grpc_target, timeout=10) as stub:
        assert await _calls_used(stub) == 250
        await conftest.set_faults(emulator, writeOutage=True)
        assert (await stub.report_usage("customer-free", "feature-api-calls", 40)).current_usage == 290
        # An entitlements event from the upstream (which still says 250 calls).
        body = {"plan": "plan-free", "usage": {"feature-api-calls": 250, "feature-seats": 1}}
        assert (await conftest.emulator_admin(emulator, "PUT", "customers/customer-free", body))[0] == 200
        waiting.wait_for(
            lambda: sidecar.metric("sidecar_stream_events_total", 'kind="entitlements"') >= 1,
            what="the event",
        )
        assert await _calls_used(stub) == 290
    stored = redis_server_module.stored_usage(redis_server, "customer-free", "feature-api-calls")
    waiting.wait_for(
        lambda: redis_server_module.stored_usage(redis_server, "customer-free", "feature-api-calls") == 250,
        timeout=5,
        what=f"Redis to hold the upstream's 250 (holds {stored})",
    )

    sidecar.process.kill()
    sidecar.process.wait()
    sidecar = start_sidecar(env)  # reads Redis (fresh), replays its outbox on it
    async with client.AsyncSidecarClient(sidecar.grpc_target, timeout=10) as stub:
        assert await _calls_used(stub) == 290, "the pending 40, once"
