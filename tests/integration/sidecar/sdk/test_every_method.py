"""Each of the twelve ``SidecarService`` methods, called through Stigg's Python SDK as its
users call it, gets a correct answer that the SDK decodes: client (betterproto over grpclib)
→ sidecar process → emulator process."""

from __future__ import annotations

import datetime

from tests import stigg_sdk

COVERED = (
    "GetEntitlements",
    "GetEntitlement",
    "GetBooleanEntitlement",
    "GetNumericEntitlement",
    "GetMeteredEntitlement",
    "GetEnumEntitlement",
    "ReportUsage",
    "ReportEvents",
    "ReloadEntitlements",
    "ReportUsageBulk",
    "GetEntitlementV2",
    "GetEntitlementsStateV2",
)
ONEOF = {"boolean", "numeric", "metered", "enum", "credit"}


def test_these_are_all_the_sdk_methods() -> None:
    assert set(COVERED) == set(stigg_sdk.schema()["methods"])


def test_get_entitlements(module_sdk: stigg_sdk.SdkClient) -> None:
    free = module_sdk.response("GetEntitlements", {"customer_id": "customer-free"})
    assert free["access_denied_reason"] is None
    by_feature = {
        entry[kind]["feature"]["id"]: kind for entry in free["entitlements"] for kind in entry.keys() & ONEOF
    }
    assert by_feature == {
        "feature-max-projects": "numeric",
        "feature-seats": "metered",
        "feature-api-calls": "metered",
        "feature-data-region": "enum",
    }, "only the granted features (free has no sso), each in its own oneof member"
    nobody = module_sdk.response("GetEntitlements", {"customer_id": "customer-nobody"})
    assert (nobody["entitlements"], nobody["access_denied_reason"]) == (
        [],
        "ACCESS_DENIED_REASON_CUSTOMER_NOT_FOUND",
    )


def test_get_entitlement(module_sdk: stigg_sdk.SdkClient) -> None:
    answer = module_sdk.response(
        "GetEntitlement",
        {
            "customer_id": "customer-free",
            "feature_id": "feature-api-calls",
            "options": {"requested_usage": 2000},
        },
    )
    assert answer.keys() & ONEOF == {"metered"}
    assert (answer["has_access"], answer["is_fallback"], answer["access_denied_reason"]) == (
        False,
        False,
        "ACCESS_DENIED_REASON_REQUESTED_USAGE_EXCEEDING_LIMIT",
    )
    assert (answer["metered"]["usage_limit"], answer["metered"]["current_usage"]) == (1000, 250)


def test_get_boolean_entitlement(module_sdk: stigg_sdk.SdkClient) -> None:
    answer = module_sdk.response(
        "GetBooleanEntitlement", {"customer_id": "customer-pro", "feature_id": "feature-sso"}
    )
    assert (answer["has_access"], answer["is_fallback"], answer["access_denied_reason"]) == (
        True,
        False,
        None,
    )
    assert answer["entitlement"]["feature"] == {
        "id": "feature-sso",
        "feature_type": "FEATURE_TYPE_BOOLEAN",
        "units": None,
        "units_plural": None,
        "meter_type": "METER_TYPE_NONE",
        "is_metered": False,
    }


def test_get_numeric_entitlement(module_sdk: stigg_sdk.SdkClient) -> None:
    answer = module_sdk.response(
        "GetNumericEntitlement", {"customer_id": "customer-free", "feature_id": "feature-max-projects"}
    )
    assert answer["has_access"] is True
    entitlement = answer["entitlement"]
    assert (entitlement["value"], entitlement["is_unlimited"]) == (3, False)
    assert (entitlement["feature"]["units"], entitlement["feature"]["units_plural"]) == (
        "project",
        "projects",
    )


def test_get_metered_entitlement(module_sdk: stigg_sdk.SdkClient) -> None:
    answer = module_sdk.response(
        "GetMeteredEntitlement",
        {
            "customer_id": "customer-free",
            "feature_id": "feature-api-calls",
            "options": {"requested_usage": 750},
        },
    )
    assert (answer["has_access"], answer["requested_usage"]) == (True, 750)
    entitlement = answer["entitlement"]
    assert (entitlement["usage_limit"], entitlement["current_usage"], entitlement["is_unlimited"]) == (
        1000,
        250,
        False,
    )
    assert entitlement["has_soft_limit"] is False
    assert entitlement["reset_period"] == "ENTITLEMENT_RESET_PERIOD_MONTH"
    assert entitlement["feature"]["meter_type"] == "METER_TYPE_INCREMENTAL"
    start, end = (
        datetime.datetime.fromisoformat(entitlement[f"usage_period_{edge}"]) for edge in ("start", "end")
    )
    assert start < datetime.datetime.now(datetime.UTC) < end
    assert entitlement["next_reset_date"] is None, "deprecated: superseded by usage_period_end"


def test_get_enum_entitlement(module_sdk: stigg_sdk.SdkClient) -> None:
    answer = module_sdk.response(
        "GetEnumEntitlement",
        {
            "customer_id": "customer-pro",
            "feature_id": "feature-data-region",
            "options": {"requested_values": ["eu"]},
        },
    )
    assert (answer["has_access"], answer["requested_values"], answer["entitlement"]["enum_values"]) == (
        True,
        ["eu"],
        ["us", "eu"],
    )


def test_report_usage(module_sdk: stigg_sdk.SdkClient) -> None:
    module_sdk.response(
        "GetMeteredEntitlement", {"customer_id": "customer-pro", "feature_id": "feature-seats"}
    )
    answer = module_sdk.response(
        "ReportUsage", {"customer_id": "customer-pro", "feature_id": "feature-seats", "value": 1}
    )
    assert (answer["customer_id"], answer["feature_id"], answer["resource_id"]) == (
        "customer-pro",
        "feature-seats",
        None,
    )
    assert answer["current_usage"] == 8, "7 seats held, one more reported"
    assert answer["measurement_id"]


def test_report_events(module_sdk: stigg_sdk.SdkClient) -> None:
    answer = module_sdk.call(
        "ReportEvents",
        {
            "events": [
                {
                    "event_name": "file-uploaded",
                    "customer_id": "customer-pro",
                    "idempotency_key": "sdk-evt-1",
                    "dimensions": {"bytes": {"number_value": 512}},
                }
            ]
        },
    )
    assert answer == {"response": {}}, "google.protobuf.Empty"


def test_reload_entitlements(module_sdk: stigg_sdk.SdkClient) -> None:
    known = module_sdk.response("ReloadEntitlements", {"customer_id": "customer-free"})
    assert known == {"entitled_entity_exists": True}
    unknown = module_sdk.response("ReloadEntitlements", {"customer_id": "customer-nobody"})
    assert unknown == {"entitled_entity_exists": False}


def test_report_usage_bulk(module_sdk: stigg_sdk.SdkClient) -> None:
    answer = module_sdk.response(
        "ReportUsageBulk",
        {
            "usages": [
                {"customer_id": "customer-enterprise", "feature_id": "feature-api-calls", "value": 3},
                {
                    "customer_id": "customer-enterprise",
                    "resource_id": "workspace-sandbox",
                    "feature_id": "feature-seats",
                    "value": 1,
                    "update_behavior": "USAGE_UPDATE_BEHAVIOR_SET",
                },
            ]
        },
    )
    usages = answer["usages"]
    assert [(u["customer_id"], u["resource_id"], u["feature_id"]) for u in usages] == [
        ("customer-enterprise", None, "feature-api-calls"),
        ("customer-enterprise", "workspace-sandbox", "feature-seats"),
    ]
    assert all(u["measurement_id"] for u in usages)
    assert len({u["measurement_id"] for u in usages}) == 2


def test_get_entitlement_v2(module_sdk: stigg_sdk.SdkClient) -> None:
    answer = module_sdk.response(
        "GetEntitlementV2", {"customer_id": "customer-pro", "feature_id": "feature-data-region"}
    )
    entitlement = answer["entitlement"]
    assert entitlement.keys() & ONEOF == {"enum"}
    assert (entitlement["has_access"], entitlement["is_fallback"], entitlement["access_denied_reason"]) == (
        True,
        False,
        None,
    )
    assert entitlement["enum"]["enum_values"] == ["us", "eu"]


def test_get_entitlements_state_v2(module_sdk: stigg_sdk.SdkClient) -> None:
    answer = module_sdk.response("GetEntitlementsStateV2", {"customer_id": "customer-free"})
    assert answer["access_denied_reason"] is None
    by_feature = {}
    for entry in answer["entitlements"]:
        (kind,) = entry.keys() & ONEOF
        by_feature[entry[kind]["feature"]["id"]] = (kind, entry["has_access"], entry["access_denied_reason"])
    assert by_feature == {
        "feature-sso": ("boolean", False, "ACCESS_DENIED_REASON_NO_FEATURE_ENTITLEMENT_IN_SUBSCRIPTION"),
        "feature-max-projects": ("numeric", True, None),
        "feature-seats": ("metered", True, None),
        "feature-api-calls": ("metered", True, None),
        "feature-data-region": ("enum", True, None),
    }, "every feature, denied ones with their reason"
