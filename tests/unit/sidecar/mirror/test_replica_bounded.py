"""The replica holds at most ``max_customers``: the least recently used are forgotten and
handed back to be unsubscribed."""

from __future__ import annotations

from stigg_sidecar import model
from stigg_sidecar.mirror import codec, replica
from stigg_sidecar.v1 import mirror_pb2 as mpb
from tests.unit.sidecar.mirror import test_replica_freshness as fixtures


def _state(customer_id: str) -> mpb.CustomerState:
    state = model.EntitlementState(model.CustomerKey(customer_id), {})
    return codec.state_message(state, fresh_for=60, current_epoch=0)


def test_the_least_recently_used_is_forgotten_and_unsubscribed() -> None:
    mirror = replica.Replica(staleness=5, max_customers=2, clock=fixtures.Clock())
    for customer in ("a", "b"):
        mirror.want((customer, None))
    mirror.begin("stream-1")
    mirror.apply(mpb.FollowResponse(sequence=1, status=mpb.Status()))
    assert mirror.apply(mpb.FollowResponse(sequence=2, state=_state("a"))).forget == ()
    assert mirror.apply(mpb.FollowResponse(sequence=3, state=_state("b"))).forget == ()
    assert mirror.fresh(("a", None)) is not None  # "a" is now the most recently used
    assert mirror.want(("c", None))
    applied = mirror.apply(mpb.FollowResponse(sequence=4, state=_state("c")))
    assert applied.forget == (("b", None),)
    assert sorted(mirror.followed()) == [("a", None), ("c", None)]
    assert mirror.stats.evictions == 1


def test_a_state_for_a_key_no_longer_followed_is_ignored() -> None:
    mirror = replica.Replica(staleness=5, clock=fixtures.Clock())
    mirror.begin("stream-1")
    mirror.apply(mpb.FollowResponse(sequence=1, status=mpb.Status()))
    mirror.apply(mpb.FollowResponse(sequence=2, state=_state("stranger")))
    assert len(mirror) == 0
