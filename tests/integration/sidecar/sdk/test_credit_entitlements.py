"""Credit entitlements through Stigg's Python SDK: ``GetEntitlementV2`` by ``currency_id``
answers the ``credit`` member of ``EntitlementV2`` (limit, consumed, remaining,
``has_soft_limit``, the currency's display fields and metadata) and decides a requested
amount; ``GetEntitlementsStateV2`` lists the balance."""

from __future__ import annotations

from tests import stigg_sdk


def _credit(sdk: stigg_sdk.SdkClient, customer_id: str, **options: object) -> dict[str, object]:
    request = {"customer_id": customer_id, "currency_id": "credits-ai", "options": options}
    answer: dict[str, object] = sdk.response("GetEntitlementV2", request)["entitlement"]
    return answer


def test_a_balance_through_the_sdk(module_sdk: stigg_sdk.SdkClient) -> None:
    answer = _credit(module_sdk, "customer-pro")
    assert answer["has_access"] is True
    credit = answer["credit"]
    assert isinstance(credit, dict)
    balance = (credit["usage_limit"], credit["current_usage"], credit["remaining"])
    assert (*balance, credit["has_soft_limit"]) == (5000, 1250, 3750, False)
    currency = credit["currency"]
    assert (currency["currency_id"], currency["display_name"], currency["unit_singular"]) == (
        "credits-ai",
        "AI credits",
        "credit",
    )
    assert currency["additional_meta_data"] == {  # a google.protobuf.Struct, as betterproto shows it
        "fields": {"category": {"string_value": "ai"}, "billing": {"string_value": "prepaid"}}
    }


def test_a_requested_amount_through_the_sdk(module_sdk: stigg_sdk.SdkClient) -> None:
    short = _credit(module_sdk, "customer-pro", requested_usage=3751)
    assert (short["has_access"], short["access_denied_reason"]) == (
        False,
        "ACCESS_DENIED_REASON_INSUFFICIENT_CREDITS",
    )
    soft = _credit(module_sdk, "customer-enterprise", requested_usage=1_000_000)
    assert soft["has_access"] is True
    assert soft["credit"]["has_soft_limit"] is True  # type: ignore[index]


def test_the_state_lists_the_balance(module_sdk: stigg_sdk.SdkClient) -> None:
    state = module_sdk.response("GetEntitlementsStateV2", {"customer_id": "customer-pro"})
    credits = [entry["credit"] for entry in state["entitlements"] if "credit" in entry]
    assert [(c["currency"]["currency_id"], c["current_usage"]) for c in credits] == [("credits-ai", 1250)]
