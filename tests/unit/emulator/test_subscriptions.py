"""What a customer holds: its own subscription or a resource's, active with a plan or with any
entitlement an override grants; how a feature's kind is named in errors."""

from __future__ import annotations

import pytest

from stigg_emulator import catalog, loading
from stigg_sidecar import model


@pytest.fixture(scope="module")
def sample() -> catalog.Catalog:
    return loading.load(catalog.SAMPLE_PATH)


def test_a_customer_holds_its_own_subscription_and_its_resources(sample: catalog.Catalog) -> None:
    customer = sample.customers["customer-enterprise"]
    assert customer.subscription_for(None) is customer.subscription
    assert customer.subscription_for("workspace-sandbox") is customer.resources["workspace-sandbox"]
    assert customer.subscription_for("workspace-missing") is None
    assert customer.plan == customer.subscription.plan


def test_a_subscription_is_active_with_a_plan_or_an_entitlement() -> None:
    granted = {"sso": catalog.EntitlementSpec()}
    assert catalog.Subscription(plan="basic", entitlements={}, usage={}).active
    assert catalog.Subscription(plan=None, entitlements=granted, usage={}).active
    assert not catalog.Subscription(plan=None, entitlements={}, usage={}).active


@pytest.mark.parametrize(
    ("feature_type", "meter_type", "phrase", "metered"),
    [
        (model.FeatureType.BOOLEAN, model.MeterType.NONE, "boolean", False),
        (model.FeatureType.ENUM, model.MeterType.NONE, "enum", False),
        (model.FeatureType.NUMBER, model.MeterType.NONE, "numeric", False),
        (model.FeatureType.NUMBER, model.MeterType.FLUCTUATING, "metered (Fluctuating)", True),
        (model.FeatureType.NUMBER, model.MeterType.INCREMENTAL, "metered (Incremental)", True),
    ],
)
def test_a_features_kind_as_errors_name_it(
    feature_type: model.FeatureType, meter_type: model.MeterType, phrase: str, metered: bool
) -> None:
    feature = catalog.Feature(id="f", feature_type=feature_type, meter_type=meter_type)
    assert feature.kind_phrase == phrase
    assert feature.is_metered is metered
