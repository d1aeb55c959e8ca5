"""Credit currencies in the catalog: currencies with their metadata, plan grants merged with a
customer's, consumed credits, a metered entitlement's credit rate, and errors naming the place."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from stigg_emulator import catalog, loading
from stigg_sidecar import model

BASE: dict[str, Any] = {
    "features": [
        {"id": "calls", "featureType": "NUMBER", "meterType": "Incremental"},
        {"id": "sso", "featureType": "BOOLEAN"},
    ],
    "currencies": [
        {"id": "cred", "displayName": "Credits", "unitSingular": "credit", "metadata": {"k": "v"}}
    ],
    "plans": [
        {
            "id": "pro",
            "entitlements": {
                "calls": {"hasUnlimitedUsage": True, "creditRate": {"amount": 0.5, "currencyId": "cred"}}
            },
            "credits": {"cred": {"usageLimit": 100, "resetPeriod": "MONTH"}},
        }
    ],
    "customers": [
        {"id": "c1", "plan": "pro", "credits": {"cred": {"hasSoftLimit": True}}, "creditUsage": {"cred": 30}},
        {"id": "c2", "plan": None, "credits": {"cred": {"usageLimit": 5}}},
    ],
}


def test_currencies_grants_and_rates_are_read() -> None:
    loaded = loading.parse(copy.deepcopy(BASE))
    assert loaded.currencies["cred"] == catalog.Currency(
        id="cred", display_name="Credits", unit_singular="credit", metadata={"k": "v"}
    )
    assert loaded.plans["pro"].entitlements["calls"].credit_rate == catalog.CreditRate(
        amount=0.5, currency_id="cred"
    )
    c1 = loaded.customers["c1"].subscription
    assert c1.credits["cred"] == catalog.CreditSpec(
        usage_limit=100, has_soft_limit=True, reset_period=model.ResetPeriod.MONTH
    )  # the plan's grant, the override's soft limit
    assert c1.credit_usage == {"cred": 30}
    c2 = loaded.customers["c2"].subscription
    assert c2.active  # a credit grant alone is a subscription
    assert c2.credits["cred"].usage_limit == 5


def _set(path: list[Any], value: Any) -> dict[str, Any]:
    document = copy.deepcopy(BASE)
    target: Any = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return document


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (_set(["currencies", 0, "displayName"], None), "currencies[0].displayName: required"),
        (
            _set(["currencies", 0, "metadata"], {"k": 1}),
            "currencies[0].metadata.k: expected a non-empty string, got a number",
        ),
        (
            _set(["plans", 0, "credits"], {"gold": {"usageLimit": 1}}),
            "plans[0].credits.gold: unknown currency 'gold'",
        ),
        (_set(["plans", 0, "credits", "cred"], {}), "plans[0].credits.cred.usageLimit: required"),
        (
            _set(["plans", 0, "credits", "cred"], {"usageLimit": -1}),
            "plans[0].credits.cred.usageLimit: must not be negative",
        ),
        (
            _set(["plans", 0, "credits", "cred"], {"usageLimit": 1, "rollover": True}),
            "plans[0].credits.cred.rollover: unknown field"
            " (expected one of: usageLimit, hasSoftLimit, resetPeriod)",
        ),
        (
            _set(["customers", 1, "creditUsage"], {"cred": 1, "cred2": 1}),
            "customers[1].creditUsage.cred2: unknown currency 'cred2'",
        ),
        (
            _set(["customers", 0, "plan"], None),
            "customers[0].credits.cred.usageLimit: required",
        ),
        (
            _set(["plans", 0, "entitlements", "calls", "creditRate"], {"amount": 0, "currencyId": "cred"}),
            "plans[0].entitlements.calls.creditRate.amount: required, a number above 0",
        ),
        (
            _set(["plans", 0, "entitlements", "calls", "creditRate"], {"amount": 1, "currencyId": "gold"}),
            "plans[0].entitlements.calls.creditRate.currencyId: unknown currency 'gold'",
        ),
        (
            _set(["plans", 0, "entitlements"], {"sso": {"creditRate": {"amount": 1, "currencyId": "cred"}}}),
            "plans[0].entitlements.sso.creditRate: not allowed for boolean feature 'sso'",
        ),
    ],
    ids=lambda value: value.split(":")[0] if isinstance(value, str) else "",
)
def test_invalid_credits_are_rejected_naming_the_path(document: dict[str, Any], message: str) -> None:
    with pytest.raises(loading.CatalogError) as raised:
        loading.parse(document)
    assert str(raised.value) == message


def test_credit_usage_of_a_currency_not_granted_is_rejected() -> None:
    document = copy.deepcopy(BASE)
    document["customers"].append({"id": "c3", "plan": None, "creditUsage": {"cred": 1}})
    with pytest.raises(loading.CatalogError) as raised:
        loading.parse(document)
    assert str(raised.value) == "customers[2].creditUsage.cred: currency 'cred' is not granted here"
