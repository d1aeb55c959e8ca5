"""The emulator publishes on its stream what Stigg's would: entitlement changes (admin
endpoints, catalog reload) and usage reports, to every subscriber, and nothing for a replay."""

from __future__ import annotations

import pathlib
import shutil
import signal
from collections.abc import AsyncIterator

import aiohttp
import pytest

from stigg_emulator import catalog, launcher
from tests.integration.emulator import upstream as upstream_client

Upstream = upstream_client.Upstream


def _by_feature(payload: dict[str, object]) -> dict[str, dict[str, object]]:
    entitlements = payload["entitlements"]
    assert isinstance(entitlements, list)
    return {e["feature"]["refId"]: e for e in entitlements}


async def test_a_plan_change_publishes_the_customers_new_entitlements(upstream: Upstream) -> None:
    async with upstream.stream() as socket:
        status, _ = await upstream.admin("PUT", "customers/customer-free", {"plan": "plan-pro"})
        assert status == 200
        sid, field, payload = await upstream_client.next_event(socket)
    assert (sid, field) == ("e", "entitlementsUpdated")
    assert (payload["customerId"], payload["resourceId"]) == ("customer-free", None)
    published = _by_feature(payload)
    assert published["feature-sso"]["isGranted"] is True
    assert published["feature-seats"]["usageLimit"] == 10
    assert published == await upstream.entitlements("customer-free")  # exactly what a fetch returns


async def test_every_subscriber_receives_each_event(upstream: Upstream) -> None:
    async with upstream.stream() as first, upstream.stream() as second:
        await upstream.admin("PUT", "customers/customer-new", {"plan": "plan-free"})
        for socket in (first, second):
            _, field, payload = await upstream_client.next_event(socket)
            assert (field, payload["customerId"]) == ("entitlementsUpdated", "customer-new")
    assert (await upstream.stream_status())["published"]["entitlementsUpdated"] == 1


async def test_resources_are_published_each_and_a_deleted_customer_has_no_entitlements(
    upstream: Upstream,
) -> None:
    async with upstream.stream() as socket:
        await upstream.admin("PUT", "customers/customer-enterprise", {"plan": "plan-pro"})
        keys = [(await upstream_client.next_event(socket))[2]["resourceId"] for _ in range(3)]
        assert keys == [None, "workspace-eu", "workspace-sandbox"]  # resources it had are republished
        status, _ = await upstream.admin("DELETE", "customers/customer-free")
        assert status == 204
        _, _, payload = await upstream_client.next_event(socket)
    assert payload == {
        "customerId": "customer-free",
        "resourceId": None,
        "accessDeniedReason": "CustomerNotFound",
        "entitlements": [],
    }


async def test_usage_reports_publish_usage_and_a_replay_publishes_nothing(upstream: Upstream) -> None:
    async with upstream.stream() as socket:
        for _ in range(2):
            status, body = await upstream.report_usage(
                customerId="customer-free", featureId="feature-api-calls", value=5, idempotencyKey="k-1"
            )
            assert status == 200
            assert body["data"]["reportUsage"]["currentUsage"] == 255
        sid, field, payload = await upstream_client.next_event(socket)
        assert (sid, field) == ("u", "usageUpdated")
        usage = payload["usage"]
        assert (usage["customerId"], usage["featureId"], usage["currentUsage"]) == (
            "customer-free",
            "feature-api-calls",
            255,
        )
        assert usage["usagePeriodStart"] is not None
        entitlement = payload["entitlement"]
        assert (entitlement["feature"]["refId"], entitlement["currentUsage"], entitlement["usageLimit"]) == (
            "feature-api-calls",
            255,
            1000,
        )
        assert await upstream_client.no_message_within(socket, 0.3), "the replay was published"


async def test_a_completed_subscription_receives_no_more_events(upstream: Upstream) -> None:
    async with upstream.stream() as socket:
        await socket.send_json({"id": "e", "type": "complete"})
        await upstream.admin("PUT", "customers/customer-free", {"plan": "plan-pro"})
        await upstream.report_usage(customerId="customer-free", featureId="feature-seats", value=1)
        sid, field, _ = await upstream_client.next_event(socket)
        assert (sid, field) == ("u", "usageUpdated")  # the usage subscription still runs
        assert await upstream_client.no_message_within(socket, 0.2)


@pytest.fixture
async def from_file(
    tmp_path: pathlib.Path,
) -> AsyncIterator[tuple[pathlib.Path, launcher.RunningEmulator, Upstream]]:
    """An emulator of its own, serving a copy of the sample catalog that the test may edit."""
    path = tmp_path / "catalog.yaml"
    shutil.copy(catalog.SAMPLE_PATH, path)
    with launcher.start(catalog_path=path, latency_ms=0, api_key="k") as running:
        async with aiohttp.ClientSession() as session:
            yield path, running, Upstream(base_url=running.base_url, api_key="k", session=session)


def _change_plan(path: pathlib.Path, customer_id: str, old: str, new: str) -> None:
    text = path.read_text()
    before = f"  - id: {customer_id}\n    plan: {old}\n"
    assert before in text
    path.write_text(text.replace(before, f"  - id: {customer_id}\n    plan: {new}\n"))


async def test_a_catalog_reload_publishes_the_customers_it_changed(
    from_file: tuple[pathlib.Path, launcher.RunningEmulator, Upstream],
) -> None:
    path, _, upstream = from_file
    async with upstream.stream() as socket:
        status, _ = await upstream.admin("POST", "catalog/reload")
        assert status == 200
        assert await upstream_client.no_message_within(socket, 0.3), "an unchanged reload published"
        _change_plan(path, "customer-pro", "plan-pro", "plan-enterprise")
        status, _ = await upstream.admin("POST", "catalog/reload")
        assert status == 200
        _, field, payload = await upstream_client.next_event(socket)
        assert (field, payload["customerId"]) == ("entitlementsUpdated", "customer-pro")
        assert _by_feature(payload)["feature-max-projects"]["hasUnlimitedUsage"] is True
        assert await upstream_client.no_message_within(socket, 0.3), "unchanged customers were published"


async def test_reads_publish_nothing(upstream: Upstream) -> None:
    async with upstream.stream() as socket:
        await upstream.edge("customer-pro")
        await upstream.graphql("GetEntitlementsState", {"query": {"customerId": "customer-pro"}})
        await upstream.admin("GET", "usage/customer-pro")
        assert await upstream_client.no_message_within(socket, 0.2)


async def test_sighup_reloads_the_catalog_file_and_publishes(
    from_file: tuple[pathlib.Path, launcher.RunningEmulator, Upstream],
) -> None:
    path, running, upstream = from_file
    original = path.read_text()
    async with upstream.stream() as socket:
        path.write_text("features: [}")  # invalid: logged, nothing changes
        running.process.send_signal(signal.SIGHUP)
        assert await upstream_client.no_message_within(socket, 0.3)
        path.write_text(original)
        _change_plan(path, "customer-free", "plan-free", "plan-pro")
        running.process.send_signal(signal.SIGHUP)
        _, field, payload = await upstream_client.next_event(socket)
        assert (field, payload["customerId"]) == ("entitlementsUpdated", "customer-free")
        assert _by_feature(payload)["feature-sso"]["isGranted"] is True
    assert running.process.poll() is None, "SIGHUP must not stop the emulator"
