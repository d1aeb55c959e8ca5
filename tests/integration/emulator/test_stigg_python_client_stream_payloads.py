"""Every kind of event the emulator publishes, in both protocols, passes the pydantic model of
Stigg's Python API client (6.25.0) for its payload: ``EntitlementsUpdatedPayload`` and
``EntitlementUsageUpdated`` (legacy), ``EntitlementsUpdatedV2Payload``, ``UsageUpdatedV2Payload``
(for a feature and for a credit currency) and ``PackagePublishedPayload``."""

from __future__ import annotations

import pathlib
from typing import Any

from tests.integration.emulator import peers
from tests.integration.emulator import upstream as upstream_client

Upstream = upstream_client.Upstream
MODELS = {
    "entitlementsUpdated": "EntitlementsUpdatedPayload",
    "usageUpdated": "EntitlementUsageUpdated",
    "entitlementsUpdatedV2": "EntitlementsUpdatedV2Payload",
    "usageUpdatedV2": "UsageUpdatedV2Payload",
    "packagePublished": "PackagePublishedPayload",
}


async def test_every_published_payload_validates(
    rated_emulator: tuple[pathlib.Path, Upstream], stigg_python_client: pathlib.Path
) -> None:
    path, upstream = rated_emulator
    async with upstream.stream(subscriptions=upstream_client.ALL_SUBSCRIPTIONS) as socket:
        await upstream.admin("PUT", "customers/customer-free", {"plan": "plan-pro"})  # entitlements, both
        await upstream.admin("DELETE", "customers/customer-archived")  # an empty list, with a reason
        await upstream.report_usage(customerId="customer-pro", featureId="feature-api-calls", value=10)
        path.write_text(path.read_text().replace("displayName: Free\n", "displayName: Free forever\n"))
        status, _ = await upstream.admin("POST", "catalog/reload")  # plan-free changed: published
        assert status == 200
        events = await upstream_client.events_until_quiet(socket)
    assert {field for field, _ in events} == set(MODELS)
    credit_usage = [
        p for f, p in events if f == "usageUpdatedV2" and p["entitlementReference"]["type"] == "CREDIT"
    ]
    assert [(p["entitlementReference"]["id"], p["usage"]["currentUsage"]) for p in credit_usage] == [
        ("credits-ai", 1270)  # 1250 used, plus 10 calls at 2 credits
    ]
    documents = [{"model": MODELS[field], "data": payload} for field, payload in events]
    results: dict[str, Any] = peers.run_json(
        [str(stigg_python_client), str(peers.PYTHON_CLIENT_SCRIPT), "validate"],
        env=peers.loopback_env(),
        stdin=documents,
    )
    failed = {name: result["error"] for name, result in results.items() if not result["ok"]}
    assert failed == {}
    assert len(results) == len(events)
