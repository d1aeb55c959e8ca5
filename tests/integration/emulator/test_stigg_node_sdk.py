"""Stigg's Node server SDK (3.95.0, the newest the npm registry here installs) against the
emulator with its default options, only the API key and the base URLs changed: it starts (its
SDK configuration and the Edge API), reads entitlements that match the catalog, and follows the
real-time stream: an upstream plan change and another writer's usage show in its next reads
without a refetch."""

from __future__ import annotations

import pathlib
import shutil
from typing import Any

import pytest

from tests.integration.emulator import peers
from tests.integration.emulator import upstream as upstream_client

Upstream = upstream_client.Upstream


@pytest.fixture
async def sdk_run(upstream: Upstream, stigg_node_sdk: pathlib.Path) -> dict[str, Any]:
    node = shutil.which("node")
    assert node is not None, "node is not installed"
    env = peers.loopback_env(
        EMULATOR_URL=upstream.base_url,
        EMULATOR_API_KEY=upstream.api_key,
        NODE_PATH=str(stigg_node_sdk / "node_modules"),
    )
    result: dict[str, Any] = peers.run_json([node, str(peers.NODE_SDK_SCRIPT)], env=env)
    return result


async def test_the_sdk_starts_reads_the_catalog_and_follows_the_stream(sdk_run: dict[str, Any]) -> None:
    assert sdk_run["initialized"] is True
    assert (
        sdk_run["subscriptions"] == 4
    )  # entitlementsUpdated, usageUpdated, packagePublished, creditBalanceUpdated
    assert sdk_run["sso"] == {"hasAccess": True, "isFallback": False, "accessDeniedReason": None}
    assert sdk_run["projects"] == {"hasAccess": True, "value": 20, "isUnlimited": False}
    assert sdk_run["seats"] == {
        "hasAccess": True,
        "usageLimit": 15,
        "currentUsage": 7,
        "isUnlimited": False,
        "hasSoftLimit": False,
    }
    assert sdk_run["freeCallsOverLimit"] == {
        "hasAccess": False,
        "usageLimit": 1000,
        "currentUsage": 250,
        "resetPeriod": "MONTH",
        "accessDeniedReason": "RequestedUsageExceedingLimit",
    }
    assert sdk_run["freeCallsPeriodEnd"] is not None
    assert sdk_run["region"] == {
        "hasAccess": False,
        "enumValues": ["us", "eu"],
        "accessDeniedReason": "RequestedValuesMismatch",
    }
    assert sdk_run["workspaceSeats"] == {"hasAccess": True, "usageLimit": 10, "currentUsage": 4}
    assert sdk_run["entitlements"] == [
        ["feature-sso", "BOOLEAN", True],
        ["feature-max-projects", "NUMERIC", True],
        ["feature-seats", "METERED", True],
        ["feature-api-calls", "METERED", True],
        ["feature-data-region", "ENUM", True],
    ]
    assert sdk_run["nobody"] == {
        "hasAccess": False,
        "isFallback": False,
        "accessDeniedReason": "CustomerNotFound",
    }
    assert sdk_run["freeSsoBefore"] == {
        "hasAccess": False,
        "accessDeniedReason": "NoFeatureEntitlementInSubscription",
    }
    # The plan change arrived as an event and the next read used it, with no Edge read.
    assert sdk_run["planChange"] == 200
    assert sdk_run["entitlementsEvent"] == {"customerId": "customer-free", "count": 5}
    assert sdk_run["freeSsoAfter"] == {"hasAccess": True, "accessDeniedReason": None}
    assert sdk_run["edgeReadsForTheChange"] == 0
    # Another writer's usage arrived as an event: 7 seats, plus 2.
    assert (sdk_run["otherWriter"], sdk_run["usageEvent"]) == (200, {"currentUsage": 9})
    assert sdk_run["seatsAfter"] == {"currentUsage": 9, "usageLimit": 15}
    assert sdk_run["reportUsage"] == {
        "currentUsage": 99005,
        "featureId": "feature-api-calls",
        "customerId": "customer-pro",
    }
    assert sdk_run["reportEvent"] == "undefined"  # resolved (the SDK returns nothing for it)
