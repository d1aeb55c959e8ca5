"""The stream's current protocol: ``entitlementsUpdatedV2`` carries what a fetch's
``entitlementsV2`` would, with the state's reason; ``usageUpdatedV2`` names what changed by
``entitlementReference``; ``packagePublished`` fires for each plan a reload changed, with a
version counted per plan. The legacy events keep firing beside them."""

from __future__ import annotations

import pathlib

from tests.integration.emulator import upstream as upstream_client

Upstream = upstream_client.Upstream


async def test_a_plan_change_publishes_the_v2_list_a_fetch_returns(upstream: Upstream) -> None:
    async with upstream.stream(subscriptions=upstream_client.ALL_SUBSCRIPTIONS) as socket:
        status, _ = await upstream.admin("PUT", "customers/customer-free", {"plan": "plan-enterprise"})
        assert status == 200
        events = await upstream_client.events_until_quiet(socket)
    assert [field for field, _ in events] == ["entitlementsUpdated", "entitlementsUpdatedV2"]
    v2 = events[1][1]
    _, body = await upstream.edge("customer-free")
    state = body["data"]["entitlementsState"]
    assert v2 == {
        "customerId": "customer-free",
        "resourceId": None,
        "accessDeniedReason": None,
        "entitlements": state["entitlementsV2"],
    }
    assert v2["entitlements"][-1]["currency"]["currencyId"] == "credits-ai"  # enterprise grants credits


async def test_a_deleted_customer_is_published_with_its_reason(upstream: Upstream) -> None:
    async with upstream.stream(subscriptions={"e2": upstream_client.ALL_SUBSCRIPTIONS["e2"]}) as socket:
        await upstream.admin("DELETE", "customers/customer-pro")
        _, field, payload = await upstream_client.next_event(socket)
    assert (field, payload) == (
        "entitlementsUpdatedV2",
        {
            "customerId": "customer-pro",
            "resourceId": None,
            "accessDeniedReason": "CustomerNotFound",
            "entitlements": [],
        },
    )


async def test_usage_is_published_by_entitlement_reference(upstream: Upstream) -> None:
    async with upstream.stream(subscriptions={"u2": upstream_client.ALL_SUBSCRIPTIONS["u2"]}) as socket:
        await upstream.report_usage(
            customerId="customer-enterprise", resourceId="workspace-eu", featureId="feature-seats", value=2
        )
        _, field, payload = await upstream_client.next_event(socket)
    assert field == "usageUpdatedV2"
    assert (payload["customerId"], payload["resourceId"], payload["entitlementReference"]) == (
        "customer-enterprise",
        "workspace-eu",
        {"type": "FEATURE", "id": "feature-seats"},
    )
    assert payload["usage"]["currentUsage"] == 6
    assert payload["usage"]["usageUpdatedAt"].endswith("Z")
    assert (payload["usage"]["usagePeriodStart"], payload["usage"]["usagePeriodEnd"]) == (
        None,
        None,
    )  # seats never reset


async def test_a_reload_publishes_each_changed_plan_once_with_a_new_version(
    rated_emulator: tuple[pathlib.Path, Upstream],
) -> None:
    path, upstream = rated_emulator
    async with upstream.stream(subscriptions={"p": upstream_client.ALL_SUBSCRIPTIONS["p"]}) as socket:
        await upstream.admin("POST", "catalog/reload")
        assert await upstream_client.no_message_within(socket, 0.3), "an unchanged reload published a plan"
        for version, projects in ((2, 4), (3, 5)):  # plan-free's projects: 3, then 4, then 5
            text = path.read_text()
            before = f"feature-max-projects: {{usageLimit: {projects - 1}}}"
            assert before in text
            path.write_text(text.replace(before, f"feature-max-projects: {{usageLimit: {projects}}}"))
            await upstream.admin("POST", "catalog/reload")
            _, field, payload = await upstream_client.next_event(socket)
            assert (field, payload) == (
                "packagePublished",
                {
                    "accountId": "emulator-account",
                    "environmentId": "emulator-environment",
                    "packageType": "Plan",
                    "packageRefId": "plan-free",
                    "packageVersion": version,
                    "migrationType": "ALL_CUSTOMERS",
                },
            )
        assert await upstream_client.no_message_within(socket, 0.3), "an unchanged plan was published"
