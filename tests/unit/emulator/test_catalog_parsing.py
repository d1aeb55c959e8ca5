"""The YAML catalog becomes typed values: features, plans, and customers whose subscriptions
hold the plan's entitlements with their overrides merged in."""

from __future__ import annotations

import pytest

from stigg_emulator import catalog, loading
from stigg_sidecar import model


@pytest.fixture(scope="module")
def sample() -> catalog.Catalog:
    return loading.load(catalog.SAMPLE_PATH)


def test_sample_catalog_covers_every_kind_of_feature(sample: catalog.Catalog) -> None:
    kinds = {feature.id: (feature.feature_type, feature.meter_type) for feature in sample.features.values()}
    assert kinds == {
        "feature-sso": (model.FeatureType.BOOLEAN, model.MeterType.NONE),
        "feature-max-projects": (model.FeatureType.NUMBER, model.MeterType.NONE),
        "feature-seats": (model.FeatureType.NUMBER, model.MeterType.FLUCTUATING),
        "feature-api-calls": (model.FeatureType.NUMBER, model.MeterType.INCREMENTAL),
        "feature-data-region": (model.FeatureType.ENUM, model.MeterType.NONE),
    }
    assert sample.features["feature-data-region"].enum_values == ("us", "eu", "ap")
    assert sample.features["feature-seats"].units_plural == "seats"
    assert list(sample.plans) == ["plan-free", "plan-pro", "plan-enterprise"]


def test_sample_catalog_has_limited_unlimited_and_soft_metered_entitlements(sample: catalog.Catalog) -> None:
    calls = {plan.id: plan.entitlements["feature-api-calls"] for plan in sample.plans.values()}
    assert calls["plan-free"] == catalog.EntitlementSpec(
        usage_limit=1000, reset_period=model.ResetPeriod.MONTH
    )
    assert calls["plan-pro"].has_soft_limit
    assert calls["plan-enterprise"].has_unlimited_usage
    assert calls["plan-enterprise"].usage_limit is None


def test_customers_archived_unsubscribed_and_with_resources(sample: catalog.Catalog) -> None:
    customers = sample.customers
    assert customers["customer-archived"].archived
    assert not customers["customer-unsubscribed"].subscription.active
    enterprise = customers["customer-enterprise"]
    assert set(enterprise.resources) == {"workspace-eu", "workspace-sandbox"}
    assert enterprise.resources["workspace-eu"].plan == "plan-pro"
    assert enterprise.resources["workspace-eu"].usage == {"feature-seats": 4, "feature-api-calls": 1200}
    assert enterprise.subscription_for("workspace-missing") is None


def test_an_override_is_merged_over_the_plans_entitlement() -> None:
    parsed = loading.parse(
        {
            "features": [{"id": "calls", "featureType": "NUMBER", "meterType": "Incremental"}],
            "plans": [
                {
                    "id": "p",
                    "entitlements": {"calls": {"usageLimit": 10, "hasSoftLimit": True, "resetPeriod": "DAY"}},
                }
            ],
            "customers": [
                {"id": "more", "plan": "p", "overrides": {"calls": {"usageLimit": 50}}},
                {"id": "unlimited", "plan": "p", "overrides": {"calls": {"hasUnlimitedUsage": True}}},
            ],
        }
    )
    more = parsed.customers["more"].subscription.entitlements["calls"]
    assert more == catalog.EntitlementSpec(
        usage_limit=50, has_soft_limit=True, reset_period=model.ResetPeriod.DAY
    )
    unlimited = parsed.customers["unlimited"].subscription.entitlements["calls"]
    assert (unlimited.usage_limit, unlimited.has_unlimited_usage) == (None, True)
    assert parsed.plans["p"].entitlements["calls"].usage_limit == 10  # the plan itself is unchanged


def test_an_override_can_grant_a_feature_the_plan_lacks_even_without_a_plan() -> None:
    parsed = loading.parse(
        {
            "features": [{"refId": "sso", "featureType": "BOOLEAN"}],
            "customers": [{"id": "promo", "plan": None, "overrides": {"sso": None}}],
        }
    )
    subscription = parsed.customers["promo"].subscription
    assert subscription.active
    assert subscription.entitlements == {"sso": catalog.EntitlementSpec()}


def test_an_empty_document_is_an_empty_catalog() -> None:
    assert loading.parse(None) == catalog.Catalog(features={}, plans={}, customers={})


def test_parse_customer_validates_an_admin_body_against_the_catalog(sample: catalog.Catalog) -> None:
    customer = loading.parse_customer(
        {"plan": "plan-free", "usage": {"feature-seats": 2}}, sample, customer_id="customer-new"
    )
    assert customer.id == "customer-new"
    assert customer.subscription.entitlements["feature-seats"].usage_limit == 2
    with pytest.raises(loading.CatalogError, match=r"^id: must be 'customer-new'"):
        loading.parse_customer({"id": "other", "plan": "plan-free"}, sample, customer_id="customer-new")
