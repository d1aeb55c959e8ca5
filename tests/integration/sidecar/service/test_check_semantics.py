"""Each check method's semantics, end to end: client → sidecar process → emulator process."""

from __future__ import annotations

from stigg_sidecar import client
from stigg_sidecar.v1 import sidecar_pb2 as pb


async def test_boolean(stub: client.AsyncSidecarClient) -> None:
    pro = await stub.get_boolean_entitlement("customer-pro", "feature-sso")
    assert (pro.has_access, pro.is_fallback, pro.HasField("access_denied_reason")) == (True, False, False)
    assert pro.entitlement.feature.feature_type == pb.FEATURE_TYPE_BOOLEAN
    free = await stub.get_boolean_entitlement("customer-free", "feature-sso")
    assert (free.has_access, free.access_denied_reason) == (
        False,
        pb.ACCESS_DENIED_REASON_NO_FEATURE_ENTITLEMENT_IN_SUBSCRIPTION,
    )


async def test_numeric_value_and_unlimited(stub: client.AsyncSidecarClient) -> None:
    free = await stub.get_numeric_entitlement("customer-free", "feature-max-projects")
    assert (free.has_access, free.entitlement.value, free.entitlement.is_unlimited) == (True, 3, False)
    enterprise = await stub.get_numeric_entitlement("customer-enterprise", "feature-max-projects")
    assert (enterprise.has_access, enterprise.entitlement.is_unlimited) == (True, True)


async def test_metered_limit_usage_and_requested_usage(stub: client.AsyncSidecarClient) -> None:
    # customer-free: api-calls limit 1000, current usage 250.
    within = await stub.get_metered_entitlement("customer-free", "feature-api-calls", requested_usage=750)
    assert (within.has_access, within.requested_usage) == (True, 750)
    assert (within.entitlement.usage_limit, within.entitlement.current_usage) == (1000, 250)
    assert within.entitlement.reset_period == pb.ENTITLEMENT_RESET_PERIOD_MONTH
    assert within.entitlement.usage_period_end.ToSeconds() > within.entitlement.usage_period_start.ToSeconds()
    over = await stub.get_metered_entitlement("customer-free", "feature-api-calls", requested_usage=751)
    assert (over.has_access, over.access_denied_reason) == (
        False,
        pb.ACCESS_DENIED_REASON_REQUESTED_USAGE_EXCEEDING_LIMIT,
    )
    # customer-pro: soft limit of 100000 with 99000 used: over the limit, still granted.
    soft = await stub.get_metered_entitlement("customer-pro", "feature-api-calls", requested_usage=5000)
    assert soft.has_access
    unlimited = await stub.get_metered_entitlement(
        "customer-enterprise", "feature-seats", requested_usage=10**6
    )
    assert (unlimited.has_access, unlimited.entitlement.is_unlimited) == (True, True)


async def test_enum_requested_values(stub: client.AsyncSidecarClient) -> None:
    ok = await stub.get_enum_entitlement("customer-pro", "feature-data-region", requested_values=["eu"])
    assert (ok.has_access, list(ok.entitlement.enum_values), list(ok.requested_values)) == (
        True,
        ["us", "eu"],
        ["eu"],
    )
    mismatch = await stub.get_enum_entitlement(
        "customer-pro", "feature-data-region", requested_values=["eu", "ap"]
    )
    assert (mismatch.has_access, mismatch.access_denied_reason) == (
        False,
        pb.ACCESS_DENIED_REASON_REQUESTED_VALUES_MISMATCH,
    )


async def test_denial_reasons_for_unknown_things(stub: client.AsyncSidecarClient) -> None:
    nobody = await stub.get_boolean_entitlement("customer-nobody", "feature-sso")
    assert (nobody.has_access, nobody.is_fallback, nobody.access_denied_reason) == (
        False,
        False,
        pb.ACCESS_DENIED_REASON_CUSTOMER_NOT_FOUND,
    )
    unknown_feature = await stub.get_boolean_entitlement("customer-pro", "feature-teleport")
    assert unknown_feature.access_denied_reason == pb.ACCESS_DENIED_REASON_FEATURE_NOT_FOUND
    archived = await stub.get_boolean_entitlement("customer-archived", "feature-sso")
    assert archived.access_denied_reason == pb.ACCESS_DENIED_REASON_CUSTOMER_IS_ARCHIVED
    mismatch = await stub.get_numeric_entitlement("customer-pro", "feature-sso")
    assert (mismatch.has_access, mismatch.access_denied_reason) == (
        False,
        pb.ACCESS_DENIED_REASON_FEATURE_TYPE_MISMATCH,
    )


async def test_resource_scoped_entitlements(stub: client.AsyncSidecarClient) -> None:
    workspace = await stub.get_metered_entitlement(
        "customer-enterprise", "feature-seats", resource_id="workspace-eu", requested_usage=1
    )
    assert (workspace.has_access, workspace.entitlement.usage_limit, workspace.entitlement.current_usage) == (
        True,
        10,
        4,
    )
    missing = await stub.get_boolean_entitlement(
        "customer-enterprise", "feature-sso", resource_id="workspace-x"
    )
    assert missing.access_denied_reason == pb.ACCESS_DENIED_REASON_CUSTOMER_RESOURCE_NOT_FOUND


async def test_generic_and_v2_getters(stub: client.AsyncSidecarClient) -> None:
    generic = await stub.get_entitlement(
        pb.GetEntitlementRequest(
            customer_id="customer-free",
            feature_id="feature-api-calls",
            options=pb.GetEntitlementOptions(requested_usage=2000),
        )
    )
    assert generic.WhichOneof("entitlement") == "metered"
    assert (generic.has_access, generic.access_denied_reason) == (
        False,
        pb.ACCESS_DENIED_REASON_REQUESTED_USAGE_EXCEEDING_LIMIT,
    )
    v2 = await stub.get_entitlement_v2(
        pb.GetEntitlementV2Request(customer_id="customer-pro", feature_id="feature-data-region")
    )
    assert v2.entitlement.WhichOneof("entitlement") == "enum"
    assert (v2.entitlement.has_access, v2.entitlement.is_fallback) == (True, False)


async def test_all_entitlements(stub: client.AsyncSidecarClient) -> None:
    listed = await stub.get_entitlements("customer-free")
    kinds = sorted(e.WhichOneof("entitlement") for e in listed.entitlements)
    assert kinds == ["enum", "metered", "metered", "numeric"], "only granted features (no sso on free)"
    state = await stub.get_entitlements_state_v2("customer-free")
    by_feature = {
        getattr(e, e.WhichOneof("entitlement")).feature.id: e.has_access for e in state.entitlements
    }
    assert by_feature["feature-sso"] is False
    assert by_feature["feature-api-calls"] is True
    missing = await stub.get_entitlements("customer-nobody")
    assert (list(missing.entitlements), missing.access_denied_reason) == (
        [],
        pb.ACCESS_DENIED_REASON_CUSTOMER_NOT_FOUND,
    )
