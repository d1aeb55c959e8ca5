"""Credit checks: granted while the requested credits fit in the balance, INSUFFICIENT_CREDITS
past it unless the limit is soft, ENTITLEMENT_NOT_FOUND for a currency the customer has no
balance of, and the customer-level denial first."""

from __future__ import annotations

from stigg_sidecar import model, semantics

KEY = model.CustomerKey("c1")
CREDITS = model.CreditEntitlement(model.Currency("cred"), usage_limit=100, current_usage=60)
STATE = model.EntitlementState(KEY, {}, credits={"cred": CREDITS})


def test_credits_that_fit_are_granted() -> None:
    decision = semantics.evaluate_credit(STATE, "cred", 40)
    assert (decision.has_access, decision.credit) == (True, CREDITS)
    assert semantics.evaluate_credit(STATE, "cred").has_access


def test_credits_that_do_not_fit_are_insufficient() -> None:
    decision = semantics.evaluate_credit(STATE, "cred", 41)
    assert (decision.has_access, decision.denied_reason) == (False, model.DeniedReason.INSUFFICIENT_CREDITS)
    assert decision.credit == CREDITS, "the answer still shows the balance"


def test_a_soft_limit_grants_past_the_balance() -> None:
    soft = model.EntitlementState(
        KEY,
        {},
        credits={
            "cred": model.CreditEntitlement(
                model.Currency("cred"), usage_limit=100, current_usage=60, has_soft_limit=True
            )
        },
    )
    assert semantics.evaluate_credit(soft, "cred", 1000).has_access


def test_an_unknown_currency_is_not_found() -> None:
    decision = semantics.evaluate_credit(STATE, "other", 1)
    assert (decision.has_access, decision.denied_reason) == (False, model.DeniedReason.ENTITLEMENT_NOT_FOUND)


def test_a_denied_customer_is_denied_first() -> None:
    archived = model.EntitlementState(KEY, {}, model.DeniedReason.CUSTOMER_IS_ARCHIVED, {"cred": CREDITS})
    assert (
        semantics.evaluate_credit(archived, "cred").denied_reason is model.DeniedReason.CUSTOMER_IS_ARCHIVED
    )
