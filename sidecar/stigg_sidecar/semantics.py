"""Pure entitlement rules: given what is known, may the customer use the feature?

No I/O and no clock: ``evaluate`` turns an ``EntitlementState`` (or a static default) and a
request's parameters into a ``Decision``. The rules, as in Stigg's SDKs:

* a customer denied as a whole (not found, archived) is denied with that reason;
* an unknown feature is denied with FEATURE_NOT_FOUND; a known one not in the plan with the
  reason the upstream gave (NO_FEATURE_ENTITLEMENT_IN_SUBSCRIPTION);
* a typed getter on a feature of another type is denied with FEATURE_TYPE_MISMATCH;
* metered: with a requested usage, access is denied with REQUESTED_USAGE_EXCEEDING_LIMIT when
  ``current + requested > limit``, unless the entitlement is unlimited or a soft limit;
* enum: the requested values must be a subset of the allowed ones, else
  REQUESTED_VALUES_MISMATCH;
* credits (``evaluate_credit``): an unknown currency is denied with ENTITLEMENT_NOT_FOUND; with
  a requested amount, access is denied with INSUFFICIENT_CREDITS when ``consumed + requested >
  limit``, unless the limit is soft.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from stigg_sidecar import model


@dataclasses.dataclass(slots=True)
class Decision:
    """The answer to one check. ``entitlement`` (a feature's) or ``credit`` (a currency's) is
    what the answer describes, when known.

    Treated as immutable (``as_fallback`` copies) but not frozen: one is built per check, and a
    frozen dataclass's ``__init__`` costs five times as much (``object.__setattr__`` per field),
    which an in-process check (``mirror``) would pay on every call."""

    has_access: bool
    denied_reason: model.DeniedReason | None
    entitlement: model.Entitlement | None
    is_fallback: bool = False
    requested_usage: float = 0.0
    requested_values: tuple[str, ...] = ()
    credit: model.CreditEntitlement | None = None


def _denied(
    reason: model.DeniedReason,
    entitlement: model.Entitlement | None,
    requested_usage: float,
    requested_values: tuple[str, ...],
) -> Decision:
    return Decision(False, reason, entitlement, False, requested_usage, requested_values)


def _kind_matches(expected: model.CheckKind, feature: model.Feature) -> bool:
    return expected is model.CheckKind.ANY or expected is feature.kind


def evaluate_entitlement(
    entitlement: model.Entitlement,
    kind: model.CheckKind = model.CheckKind.ANY,
    requested_usage: float | None = None,
    requested_values: Sequence[str] = (),
) -> Decision:
    """Apply the rules to one known entitlement."""
    usage = requested_usage or 0.0
    values = tuple(requested_values)
    if not _kind_matches(kind, entitlement.feature):
        return _denied(model.DeniedReason.FEATURE_TYPE_MISMATCH, entitlement, usage, values)
    if not entitlement.is_granted:
        reason = entitlement.denied_reason or model.DeniedReason.NO_FEATURE_ENTITLEMENT_IN_SUBSCRIPTION
        return _denied(reason, entitlement, usage, values)
    feature = entitlement.feature
    if (
        feature.is_metered
        and requested_usage is not None
        and not entitlement.is_unlimited
        and not entitlement.has_soft_limit
        and entitlement.usage_limit is not None
        and entitlement.current_usage + requested_usage > entitlement.usage_limit
    ):
        return _denied(model.DeniedReason.REQUESTED_USAGE_EXCEEDING_LIMIT, entitlement, usage, values)
    if feature.feature_type is model.FeatureType.ENUM and not set(values) <= set(entitlement.enum_values):
        return _denied(model.DeniedReason.REQUESTED_VALUES_MISMATCH, entitlement, usage, values)
    return Decision(True, None, entitlement, False, usage, values)


def evaluate(
    state: model.EntitlementState,
    feature_id: str,
    kind: model.CheckKind = model.CheckKind.ANY,
    requested_usage: float | None = None,
    requested_values: Sequence[str] = (),
) -> Decision:
    """Decide one check against a customer's (or resource's) known entitlement state."""
    if state.denied_reason is not None:
        return _denied(state.denied_reason, None, requested_usage or 0.0, tuple(requested_values))
    entitlement = state.entitlements.get(feature_id)
    if entitlement is None:
        return _denied(
            model.DeniedReason.FEATURE_NOT_FOUND, None, requested_usage or 0.0, tuple(requested_values)
        )
    return evaluate_entitlement(entitlement, kind, requested_usage, requested_values)


def evaluate_credit_entitlement(credit: model.CreditEntitlement, requested: float | None = None) -> Decision:
    """Apply the credit rules to one known currency balance."""
    amount = requested or 0.0
    if not credit.is_granted:
        reason = credit.denied_reason or model.DeniedReason.INSUFFICIENT_CREDITS
        return Decision(False, reason, None, requested_usage=amount, credit=credit)
    if (
        requested is not None
        and not credit.has_soft_limit
        and credit.current_usage + requested > credit.usage_limit
    ):
        return Decision(
            False, model.DeniedReason.INSUFFICIENT_CREDITS, None, requested_usage=amount, credit=credit
        )
    return Decision(True, None, None, requested_usage=amount, credit=credit)


def evaluate_credit(
    state: model.EntitlementState, currency_id: str, requested: float | None = None
) -> Decision:
    """Decide a credit check (``GetEntitlementV2`` with ``currency_id``) against a known state."""
    if state.denied_reason is not None:
        return Decision(False, state.denied_reason, None, requested_usage=requested or 0.0)
    credit = state.credits.get(currency_id)
    if credit is None:
        return Decision(
            False, model.DeniedReason.ENTITLEMENT_NOT_FOUND, None, requested_usage=requested or 0.0
        )
    return evaluate_credit_entitlement(credit, requested)


def as_fallback(decision: Decision) -> Decision:
    """The same decision, marked as served from a fallback (defaults or the request's own)."""
    return dataclasses.replace(decision, is_fallback=True)
