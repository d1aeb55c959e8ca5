"""The generated contract is Stigg's: package, service, the twelve methods and the enums
that Stigg's documentation lists (see ../shared/REFERENCE.md, section 1)."""

from __future__ import annotations

from stigg_sidecar.v1 import sidecar_pb2

METHODS = {
    "GetEntitlements": ("GetEntitlementsRequest", "GetEntitlementsResponse"),
    "GetEntitlement": ("GetEntitlementRequest", "GetEntitlementResponse"),
    "GetBooleanEntitlement": ("GetBooleanEntitlementRequest", "GetBooleanEntitlementResponse"),
    "GetNumericEntitlement": ("GetNumericEntitlementRequest", "GetNumericEntitlementResponse"),
    "GetMeteredEntitlement": ("GetMeteredEntitlementRequest", "GetMeteredEntitlementResponse"),
    "GetEnumEntitlement": ("GetEnumEntitlementRequest", "GetEnumEntitlementResponse"),
    "ReportUsage": ("ReportUsageRequest", "ReportUsageResponse"),
    "ReportEvents": ("ReportEventsRequest", "google.protobuf.Empty"),
    "ReloadEntitlements": ("ReloadEntitlementsRequest", "ReloadEntitlementsResponse"),
    "ReportUsageBulk": ("ReportUsageBulkRequest", "ReportUsageBulkResponse"),
    "GetEntitlementV2": ("GetEntitlementV2Request", "GetEntitlementV2Response"),
    "GetEntitlementsStateV2": ("GetEntitlementsStateV2Request", "GetEntitlementsStateV2Response"),
}


def _short(full_name: str) -> str:
    return full_name.removeprefix("stigg.sidecar.v1.")


def test_service_and_methods() -> None:
    file = sidecar_pb2.DESCRIPTOR
    assert (file.name, file.package) == ("stigg/sidecar/v1/sidecar.proto", "stigg.sidecar.v1")
    service = file.services_by_name["SidecarService"]
    assert service.full_name == "stigg.sidecar.v1.SidecarService"
    methods = {
        m.name: (_short(m.input_type.full_name), _short(m.output_type.full_name)) for m in service.methods
    }
    assert methods == METHODS
    assert not any(m.client_streaming or m.server_streaming for m in service.methods)


def test_access_denied_reasons() -> None:
    reasons = sidecar_pb2.AccessDeniedReason
    named = {
        "UNSPECIFIED": 0,
        "UNKNOWN": 1,
        "CUSTOMER_NOT_FOUND": 3,
        "FEATURE_NOT_FOUND": 5,
        "NO_FEATURE_ENTITLEMENT_IN_SUBSCRIPTION": 7,
        "REQUESTED_USAGE_EXCEEDING_LIMIT": 8,
        "REQUESTED_VALUES_MISMATCH": 10,
        "FEATURE_TYPE_MISMATCH": 11,
        "ENTITLEMENT_NOT_FOUND": 14,
    }
    for name, number in named.items():
        assert reasons.Value(f"ACCESS_DENIED_REASON_{name}") == number
    assert max(reasons.values()) == 14


def test_every_get_answer_carries_access_and_fallback_flags() -> None:
    for name in ("Boolean", "Numeric", "Metered", "Enum"):
        fields = sidecar_pb2.DESCRIPTOR.message_types_by_name[f"Get{name}EntitlementResponse"].fields_by_name
        assert {"has_access", "is_fallback", "access_denied_reason"} <= set(fields)
    report = sidecar_pb2.DESCRIPTOR.message_types_by_name["ReportUsageRequest"].fields_by_name
    assert {"customer_id", "feature_id", "value", "update_behavior", "resource_id"} <= set(report)
