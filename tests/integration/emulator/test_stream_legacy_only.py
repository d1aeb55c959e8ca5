"""The ``legacyOnly`` fault switch makes the emulator a server from before the V2 subscriptions:
subscribing to ``entitlementsUpdatedV2`` or ``usageUpdatedV2`` gets a GraphQL validation error
(the connection stays open), while the legacy subscriptions and ``packagePublished`` are served;
switched off, new V2 subscriptions are served again."""

from __future__ import annotations

import pytest

from tests.integration.emulator import upstream as upstream_client

Upstream = upstream_client.Upstream


@pytest.mark.parametrize("sid", ["e2", "u2"])
async def test_a_v2_subscription_is_refused_and_the_legacy_ones_still_run(
    upstream: Upstream, sid: str
) -> None:
    status, settings = await upstream.admin("PUT", "faults", {"legacyOnly": True})
    assert (status, settings["legacyOnly"]) == (200, True)
    async with upstream.stream(subscribe=False) as socket:
        document = upstream_client.ALL_SUBSCRIPTIONS[sid]
        await socket.send_json({"id": sid, "type": "subscribe", "payload": {"query": document}})
        error = await upstream_client.next_message(socket)
        assert (error["id"], error["type"]) == (sid, "error")
        [problem] = error["payload"]
        assert problem["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        assert "Cannot query field" in problem["message"]
        for legacy in ("e", "u", "p"):
            document = upstream_client.ALL_SUBSCRIPTIONS[legacy]
            await socket.send_json({"id": legacy, "type": "subscribe", "payload": {"query": document}})
        await socket.send_json({"type": "ping"})
        assert await upstream_client.next_message(socket) == {"type": "pong"}  # no error for those
        assert (await upstream.stream_status())["subscriptions"] == 3  # the refused one is not held
        await upstream.admin("PUT", "customers/customer-free", {"plan": "plan-pro"})
        await upstream.report_usage(customerId="customer-free", featureId="feature-seats", value=1)
        events = await upstream_client.events_until_quiet(socket)
    assert [field for field, _ in events] == ["entitlementsUpdated", "usageUpdated"]


async def test_switched_off_the_v2_subscriptions_are_served_again(upstream: Upstream) -> None:
    await upstream.admin("PUT", "faults", {"legacyOnly": True})
    await upstream.admin("PUT", "faults", {"legacyOnly": False})
    async with upstream.stream(subscriptions={"e2": upstream_client.ALL_SUBSCRIPTIONS["e2"]}) as socket:
        await upstream.admin("PUT", "customers/customer-free", {"plan": "plan-pro"})
        _, field, _ = await upstream_client.next_event(socket)
    assert field == "entitlementsUpdatedV2"


async def test_a_reset_switches_it_off(upstream: Upstream) -> None:
    await upstream.admin("PUT", "faults", {"legacyOnly": True})
    await upstream.admin("POST", "reset")
    _, settings = await upstream.admin("GET", "faults")
    assert settings["legacyOnly"] is False
