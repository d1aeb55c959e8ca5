"""Redis as a shared cache between sidecars: a second sidecar answers its first check without an
upstream call; with Redis killed, checks keep succeeding; once Redis is back, it is used again.
Runs a real redis-server (installed by .ci/run)."""

from __future__ import annotations

import time

from stigg_devkit import waiting
from stigg_emulator import launcher
from stigg_sidecar import client
from tests.integration.sidecar import conftest
from tests.integration.sidecar import redis_server as redis_server_module

RedisServer = redis_server_module.RedisServer


def _env(emulator: launcher.RunningEmulator, server: RedisServer) -> dict[str, str]:
    return redis_server_module.env(conftest.upstream_env(emulator), server)


async def test_second_sidecar_answers_from_redis(
    emulator: launcher.RunningEmulator, redis_server: RedisServer, start_sidecar: conftest.SidecarFactory
) -> None:
    first = start_sidecar(_env(emulator, redis_server))
    async with client.AsyncSidecarClient(first.grpc_target, timeout=5) as checks:
        assert (await checks.get_boolean_entitlement("customer-pro", "feature-sso")).has_access
    assert redis_server.stored() == [b"test-env:stigg-sidecar:v1:entitlements:customer-pro:"]

    second = start_sidecar(_env(emulator, redis_server))
    async with client.AsyncSidecarClient(second.grpc_target, timeout=5) as checks:
        answer = await checks.get_metered_entitlement("customer-pro", "feature-api-calls", requested_usage=1)
        assert (answer.has_access, answer.is_fallback, answer.entitlement.current_usage) == (
            True,
            False,
            99000,
        )
    requests = await conftest.upstream_requests(emulator)
    assert requests["byCustomer"] == {"customer-pro": 1}, "the second sidecar's first check came from Redis"


async def test_checks_survive_a_redis_outage_and_use_it_again(
    emulator: launcher.RunningEmulator, redis_server: RedisServer, start_sidecar: conftest.SidecarFactory
) -> None:
    sidecar = start_sidecar(_env(emulator, redis_server))
    async with client.AsyncSidecarClient(sidecar.grpc_target, timeout=5) as checks:
        redis_server.stop()
        began = time.monotonic()
        during = await checks.get_boolean_entitlement("customer-pro", "feature-sso")
        assert (during.has_access, during.is_fallback) == (True, False), "answered from the upstream"
        assert time.monotonic() - began < 2, "a dead Redis must not slow checks down much"
        assert sidecar.metric("sidecar_redis_client_errors_total") >= 1
        assert sidecar.http_json("/readyz")[0] == 200

        redis_server.start()  # same port, empty
        for customer in ("customer-free", "customer-enterprise"):
            answer = await checks.get_enum_entitlement(
                customer, "feature-data-region", requested_values=["us"]
            )
            assert (answer.has_access, answer.is_fallback) == (True, False)
    assert b"test-env:stigg-sidecar:v1:entitlements:customer-enterprise:" in redis_server.stored()
    log = sidecar.log()
    assert "redis read failed, serving from the in-process cache meanwhile" in log
    assert "redis is reachable again" in log


async def test_stream_events_are_written_to_redis(
    emulator: launcher.RunningEmulator, redis_server: RedisServer, start_sidecar: conftest.SidecarFactory
) -> None:
    """A sidecar following the stream writes its events to Redis, so a replica that starts
    later answers the changed entitlements and usage without any upstream call."""
    following = start_sidecar({**_env(emulator, redis_server), **conftest.stream_env(emulator)})
    waiting.wait_for(lambda: conftest.stream_live(following), timeout=10, what="the stream to be live")
    async with client.AsyncSidecarClient(following.grpc_target, timeout=10) as stub:
        assert not (await stub.get_boolean_entitlement("customer-free", "feature-sso")).has_access
        await conftest.emulator_admin(emulator, "PUT", "customers/customer-free", {"plan": "plan-pro"})
        await conftest.emulator_admin(emulator, "PUT", "customers/customer-pro", {"plan": "plan-free"})

        async def applied() -> bool:
            return (await stub.get_boolean_entitlement("customer-free", "feature-sso")).has_access

        await waiting.eventually(applied, within=5, what="the plan change to reach the sidecar")
        report = await stub.report_usage("customer-free", "feature-api-calls", 40)
        assert report.current_usage == 40  # the plan change re-seeded the usage at 0
    waiting.wait_for(
        lambda: following.metric("sidecar_stream_events_total", 'kind="usage"') == 1,
        timeout=5,
        what="the usage event",
    )
    assert redis_server.stored() == [b"test-env:stigg-sidecar:v1:entitlements:customer-free:"], (
        "an event for a customer no replica holds (customer-pro) is not written"
    )

    before = (await conftest.upstream_requests(emulator))["total"]
    replica = start_sidecar(_env(emulator, redis_server))  # no stream: only Redis can know
    async with client.AsyncSidecarClient(replica.grpc_target, timeout=10) as stub:
        assert (await stub.get_boolean_entitlement("customer-free", "feature-sso")).has_access
        calls = await stub.get_metered_entitlement("customer-free", "feature-api-calls")
        assert (calls.entitlement.usage_limit, calls.entitlement.current_usage) == (100000, 40)
    assert (await conftest.upstream_requests(emulator))["total"] == before
