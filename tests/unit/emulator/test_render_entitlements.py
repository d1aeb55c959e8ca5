"""Rendering each kind of feature as Stigg's Entitlement JSON (pure: usage and time given)."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from stigg_emulator import catalog, loading, render

NOW = datetime.datetime(2026, 3, 14, 15, 9, 26, 535000, tzinfo=datetime.UTC)
UPDATED = datetime.datetime(2026, 3, 1, 8, 0, tzinfo=datetime.UTC)
USED_AT = datetime.datetime(2026, 3, 14, 15, 0, 0, 1000, tzinfo=datetime.UTC)


@pytest.fixture(scope="module")
def sample() -> catalog.Catalog:
    return loading.load(catalog.SAMPLE_PATH)


def by_feature(
    sample: catalog.Catalog,
    customer_id: str,
    resource_id: str | None = None,
    usage: dict[str, render.MeasuredUsage] | None = None,
) -> dict[str, Any]:
    state = render.entitlements_state(
        sample,
        sample.customers[customer_id],
        resource_id,
        usage=usage or {},
        updated_at=UPDATED,
        now=NOW,
    )
    assert state["accessDeniedReason"] is None
    assert state["__typename"] == "EntitlementsState"
    return {entitlement["feature"]["refId"]: entitlement for entitlement in state["entitlements"]}


def test_every_entitlement_has_the_fragments_fields(sample: catalog.Catalog) -> None:
    fields = {
        "__typename", "isGranted", "accessDeniedReason", "customerId", "resourceId", "usageLimit",
        "hasUnlimitedUsage", "hasSoftLimit", "currentUsage", "requestedUsage", "requestedValues",
        "enumValues", "entitlementUpdatedAt", "usageUpdatedAt", "usagePeriodAnchor", "usagePeriodStart",
        "usagePeriodEnd", "nextResetDate", "resetPeriod", "resetPeriodConfiguration", "creditRate",
        "validUntil", "feature",
    }  # fmt: skip
    feature_fields = {
        "__typename", "featureType", "meterType", "featureUnits", "featureUnitsPlural", "description",
        "displayName", "refId", "isMetered", "unitTransformation",
    }  # fmt: skip
    rendered = by_feature(sample, "customer-pro")
    assert list(rendered) == [
        "feature-sso",
        "feature-max-projects",
        "feature-seats",
        "feature-api-calls",
        "feature-data-region",
    ]  # in catalog order
    for entitlement in rendered.values():
        assert set(entitlement) == fields
        assert set(entitlement["feature"]) == feature_fields
        assert entitlement["__typename"] == "Entitlement"
        assert entitlement["feature"]["__typename"] == "EntitlementFeature"
        assert entitlement["isGranted"] is True
        assert entitlement["accessDeniedReason"] is None
        assert entitlement["customerId"] == "customer-pro"
        assert entitlement["entitlementUpdatedAt"] == "2026-03-01T08:00:00.000Z"


def test_boolean_feature(sample: catalog.Catalog) -> None:
    sso = by_feature(sample, "customer-pro")["feature-sso"]
    assert (sso["usageLimit"], sso["hasUnlimitedUsage"], sso["currentUsage"], sso["enumValues"]) == (
        None,
        False,
        None,
        None,
    )
    assert sso["feature"] == {
        "__typename": "EntitlementFeature",
        "featureType": "BOOLEAN",
        "meterType": "None",
        "featureUnits": None,
        "featureUnitsPlural": None,
        "description": None,
        "displayName": "Single sign-on",
        "refId": "feature-sso",
        "isMetered": False,
        "unitTransformation": None,
    }
    outside_plan = by_feature(sample, "customer-free")["feature-sso"]
    assert (outside_plan["isGranted"], outside_plan["accessDeniedReason"]) == (
        False,
        "NoFeatureEntitlementInSubscription",
    )
    assert outside_plan["feature"] == sso["feature"]


def test_numeric_configuration_feature_carries_its_value_in_usage_limit(sample: catalog.Catalog) -> None:
    projects = by_feature(sample, "customer-pro")["feature-max-projects"]
    assert projects["usageLimit"] == 20
    assert isinstance(projects["usageLimit"], int)
    assert projects["currentUsage"] is None
    assert projects["resetPeriod"] is None
    assert projects["feature"]["featureType"] == "NUMBER"
    assert projects["feature"]["isMetered"] is False
    unlimited = by_feature(sample, "customer-enterprise")["feature-max-projects"]
    assert (unlimited["usageLimit"], unlimited["hasUnlimitedUsage"]) == (None, True)


def test_metered_feature_with_a_limit_and_a_monthly_reset(sample: catalog.Catalog) -> None:
    usage = {"feature-api-calls": render.MeasuredUsage(250.0, USED_AT)}
    calls = by_feature(sample, "customer-free", usage=usage)["feature-api-calls"]
    assert (calls["usageLimit"], calls["hasUnlimitedUsage"], calls["hasSoftLimit"]) == (1000, False, False)
    assert calls["currentUsage"] == 250
    assert calls["usageUpdatedAt"] == "2026-03-14T15:00:00.001Z"
    assert calls["resetPeriod"] == "MONTH"
    assert calls["usagePeriodAnchor"] == calls["usagePeriodStart"] == "2026-03-01T00:00:00.000Z"
    assert calls["usagePeriodEnd"] == calls["nextResetDate"] == "2026-04-01T00:00:00.000Z"
    feature = calls["feature"]
    assert (feature["meterType"], feature["isMetered"], feature["featureUnits"]) == (
        "Incremental",
        True,
        "call",
    )


def test_metered_feature_without_reported_usage_reads_zero(sample: catalog.Catalog) -> None:
    seats = by_feature(sample, "customer-free")["feature-seats"]
    assert (seats["currentUsage"], seats["usageUpdatedAt"]) == (0, None)
    assert seats["resetPeriod"] is None
    assert seats["nextResetDate"] is None
    assert seats["feature"]["meterType"] == "Fluctuating"


def test_metered_feature_unlimited(sample: catalog.Catalog) -> None:
    usage = {"feature-api-calls": render.MeasuredUsage(5_400_000.5, USED_AT)}
    calls = by_feature(sample, "customer-enterprise", usage=usage)["feature-api-calls"]
    assert (calls["usageLimit"], calls["hasUnlimitedUsage"]) == (None, True)
    assert calls["currentUsage"] == 5_400_000.5


def test_metered_feature_with_a_soft_limit(sample: catalog.Catalog) -> None:
    calls = by_feature(sample, "customer-pro")["feature-api-calls"]
    assert (calls["usageLimit"], calls["hasSoftLimit"]) == (100000, True)


def test_an_override_changes_the_rendered_limit(sample: catalog.Catalog) -> None:
    assert by_feature(sample, "customer-pro")["feature-seats"]["usageLimit"] == 15  # the plan says 10


def test_enum_feature(sample: catalog.Catalog) -> None:
    region = by_feature(sample, "customer-pro")["feature-data-region"]
    assert region["enumValues"] == ["us", "eu"]
    assert region["usageLimit"] is None
    assert region["feature"]["featureType"] == "ENUM"


def test_a_resource_renders_its_own_plan_with_the_resource_id(sample: catalog.Catalog) -> None:
    rendered = by_feature(sample, "customer-enterprise", "workspace-sandbox")
    assert rendered["feature-seats"]["usageLimit"] == 2  # plan-free, not the customer's enterprise plan
    assert rendered["feature-sso"]["isGranted"] is False
    assert {entitlement["resourceId"] for entitlement in rendered.values()} == {"workspace-sandbox"}


def test_timestamps_are_iso_8601_utc_with_milliseconds() -> None:
    offset = datetime.timezone(datetime.timedelta(hours=2))
    assert (
        render.iso(datetime.datetime(2026, 1, 2, 3, 4, 5, 678999, tzinfo=offset))
        == "2026-01-02T01:04:05.678Z"
    )
