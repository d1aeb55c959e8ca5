"""A metered entitlement goes on the wire with its soft-limit flag (``has_soft_limit = 14``),
present whether true or false, in every answer shape that carries one: the typed metered
answer, GetEntitlement's and V2's oneof, and GetEntitlements' list."""

from __future__ import annotations

import pytest

from stigg_sidecar import model, semantics, wire
from stigg_sidecar.v1 import sidecar_pb2 as pb

CALLS = model.Feature("feature-api-calls", model.FeatureType.NUMBER, model.MeterType.INCREMENTAL)


def _metered(*, soft: bool) -> model.Entitlement:
    return model.Entitlement(CALLS, usage_limit=100, current_usage=150, has_soft_limit=soft)


@pytest.mark.parametrize("soft", [True, False])
def test_the_metered_message_carries_the_flag(soft: bool) -> None:
    message = wire.metered(_metered(soft=soft))
    assert message.HasField("has_soft_limit")
    assert message.has_soft_limit is soft
    decoded = pb.MeteredEntitlement.FromString(message.SerializeToString())
    assert (decoded.HasField("has_soft_limit"), decoded.has_soft_limit) == (True, soft)


def test_every_answer_shape_with_a_metered_entitlement_carries_it() -> None:
    entitlement = _metered(soft=True)
    decision = semantics.evaluate_entitlement(entitlement, requested_usage=10)
    assert decision.has_access  # over the limit, and still granted: the limit is soft
    assert wire.any_entitlement(entitlement)["metered"].has_soft_limit
    assert wire.entitlement_v2(decision).metered.has_soft_limit
    state = model.EntitlementState(model.CustomerKey("customer-1"), {CALLS.id: entitlement})
    (listed,) = wire.granted_entitlements(state)
    assert listed.metered.has_soft_limit


def test_other_kinds_have_no_soft_limit_field() -> None:
    for message in (pb.BooleanEntitlement, pb.NumericEntitlement, pb.EnumEntitlement):
        assert "has_soft_limit" not in message.DESCRIPTOR.fields_by_name
