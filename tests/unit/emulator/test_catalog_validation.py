"""Every catalog error names its place in the YAML, so a person can fix the file at once."""

from __future__ import annotations

import copy
import pathlib
from typing import Any

import pytest

from stigg_emulator import loading
from stigg_sidecar import model

BASE: dict[str, Any] = {
    "features": [
        {"id": "sso", "featureType": "BOOLEAN"},
        {"id": "projects", "featureType": "NUMBER"},
        {"id": "seats", "featureType": "NUMBER", "meterType": "Fluctuating"},
        {"id": "calls", "featureType": "NUMBER", "meterType": "Incremental"},
        {"id": "region", "featureType": "ENUM", "enumValues": ["us", "eu"]},
    ],
    "plans": [
        {
            "id": "basic",
            "entitlements": {
                "sso": {},
                "projects": {"usageLimit": 3},
                "seats": {"usageLimit": 5},
                "calls": {"usageLimit": 100, "resetPeriod": "MONTH"},
                "region": {"enumValues": ["us"]},
            },
        }
    ],
    "customers": [{"id": "a", "plan": "basic"}, {"id": "b", "plan": "basic"}, {"id": "c", "plan": "basic"}],
}


def test_the_base_document_is_valid() -> None:
    assert len(loading.parse(BASE).customers) == 3


CASES = [
    (lambda d: d["customers"][2].update(plan="gold"), "customers[2].plan: unknown plan 'gold'"),
    (
        lambda d: d.update(extra=1),
        "extra: unknown field (expected one of: currencies, customers, features, plans)",
    ),
    (
        lambda d: d["features"][0].pop("featureType"),
        "features[0].featureType: required (one of: BOOLEAN, NUMBER, ENUM)",
    ),
    (
        lambda d: d["features"][1].update(featureType="STRING"),
        "features[1].featureType: expected one of: BOOLEAN, NUMBER, ENUM, got 'STRING'",
    ),
    (
        lambda d: d["features"][0].update(meterType="Incremental"),
        "features[0].meterType: only a NUMBER feature can be metered, not a BOOLEAN one",
    ),
    (
        lambda d: d["features"][4].pop("enumValues"),
        "features[4].enumValues: expected a non-empty list of strings, got nothing",
    ),
    (
        lambda d: d["features"].append({"id": "sso", "featureType": "BOOLEAN"}),
        "features[5].id: duplicate feature 'sso'",
    ),
    (lambda d: d["features"][0].update(refId="other"), "features[0].refId: differs from id 'sso'"),
    (
        lambda d: d["plans"][0]["entitlements"].update(ghost={}),
        "plans[0].entitlements.ghost: unknown feature 'ghost'",
    ),
    (
        lambda d: d["plans"][0]["entitlements"]["sso"].update(usageLimit=1),
        "plans[0].entitlements.sso.usageLimit: not allowed for boolean feature 'sso'",
    ),
    (
        lambda d: d["plans"][0]["entitlements"]["seats"].update(resetPeriod="DAY"),
        "plans[0].entitlements.seats.resetPeriod: not allowed for metered (Fluctuating) feature 'seats'",
    ),
    (
        lambda d: d["plans"][0]["entitlements"]["calls"].update(resetPeriod="FORTNIGHT"),
        "plans[0].entitlements.calls.resetPeriod: "
        "expected one of: HOUR, DAY, WEEK, MONTH, YEAR, got 'FORTNIGHT'",
    ),
    (
        lambda d: d["plans"][0]["entitlements"]["calls"].update(hasUnlimitedUsage=True, usageLimit=5),
        "plans[0].entitlements.calls: usageLimit and hasUnlimitedUsage: true exclude each other",
    ),
    (
        lambda d: d["plans"][0]["entitlements"]["projects"].pop("usageLimit"),
        "plans[0].entitlements.projects: needs usageLimit or hasUnlimitedUsage: true",
    ),
    (
        lambda d: d["plans"][0]["entitlements"]["seats"].update(usageLimit="ten"),
        "plans[0].entitlements.seats.usageLimit: expected a number, got the string 'ten'",
    ),
    (
        lambda d: d["plans"][0]["entitlements"]["seats"].update(usageLimit=-1),
        "plans[0].entitlements.seats.usageLimit: must not be negative",
    ),
    (
        lambda d: d["plans"][0]["entitlements"]["region"].update(enumValues=["us", "mars"]),
        "plans[0].entitlements.region.enumValues[1]: "
        "'mars' is not a value of feature 'region' (one of: us, eu)",
    ),
    (
        lambda d: d["plans"][0]["entitlements"]["seats"].update(usagelimit=3),
        "plans[0].entitlements.seats.usagelimit: unknown field "
        "(expected one of: usageLimit, hasUnlimitedUsage, hasSoftLimit, enumValues, resetPeriod, creditRate)",
    ),
    (lambda d: d["customers"][1].update(archived="yes"), "customers[1].archived: must be true or false"),
    (lambda d: d["customers"][1].pop("id"), "customers[1].id: required"),
    (lambda d: d["customers"].append({"id": "a"}), "customers[3].id: duplicate customer 'a'"),
    (
        lambda d: d["customers"][0].update(usage={"projects": 2}),
        "customers[0].usage.projects: feature 'projects' is numeric, not metered",
    ),
    (
        lambda d: d["customers"][0].update(overrides={"seats": {"hasSoftLimit": "no"}}),
        "customers[0].overrides.seats.hasSoftLimit: expected true or false, got the string 'no'",
    ),
    (
        lambda d: d["customers"][0].update(resources=[{"id": "r1", "plan": "silver"}]),
        "customers[0].resources[0].plan: unknown plan 'silver'",
    ),
    (
        lambda d: d["customers"][0].update(resources=[{"id": "r1"}, {"id": "r1"}]),
        "customers[0].resources[1].id: duplicate resource 'r1'",
    ),
    (lambda d: d.update(customers={"a": {}}), "customers: expected a list, got a mapping"),
]


@pytest.mark.parametrize(("mutate", "message"), CASES, ids=[message.split(":")[0] for _, message in CASES])
def test_invalid_catalogs_are_rejected_naming_the_path(mutate: Any, message: str) -> None:
    document = copy.deepcopy(BASE)
    mutate(document)
    with pytest.raises(loading.CatalogError) as raised:
        loading.parse(document)
    assert str(raised.value) == message


def test_a_file_that_is_not_yaml_names_the_file_and_line(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text("features:\n  - id: [unclosed\n")
    with pytest.raises(loading.CatalogError) as raised:
        loading.load(path)
    assert str(raised.value).startswith(f"{path}: not valid YAML at line 3")


def test_a_missing_file_is_a_catalog_error(tmp_path: pathlib.Path) -> None:
    with pytest.raises(loading.CatalogError, match="cannot read the catalog"):
        loading.load(tmp_path / "absent.yaml")


@pytest.mark.parametrize("period", list(model.ResetPeriod), ids=lambda period: period.value)
def test_every_reset_period_of_the_model_is_accepted_as_spelt(period: model.ResetPeriod) -> None:
    document = copy.deepcopy(BASE)
    document["plans"][0]["entitlements"]["calls"]["resetPeriod"] = period.value
    parsed = loading.parse(document)
    assert parsed.plans["basic"].entitlements["calls"].reset_period is period
