"""A gap in the sequence numbers means a change was missed: the replica asks for a new stream,
and nothing it holds answers until the new stream sends it again."""

from __future__ import annotations

from stigg_sidecar.mirror import codec, replica
from stigg_sidecar.v1 import mirror_pb2 as mpb
from tests.unit.sidecar.mirror import test_replica_freshness as fixtures

KEY, STATE = fixtures.KEY, fixtures.STATE


def _message(sequence: int) -> mpb.FollowResponse:
    return mpb.FollowResponse(
        sequence=sequence, state=codec.state_message(STATE, fresh_for=60, current_epoch=0)
    )


def test_a_skipped_number_is_a_gap_and_stops_the_answers() -> None:
    mirror = replica.Replica(staleness=5, clock=fixtures.Clock())
    mirror.want(KEY)
    assert mirror.begin("stream-1") == [KEY]
    assert not mirror.apply(mpb.FollowResponse(sequence=1, status=mpb.Status())).gap
    assert not mirror.apply(_message(2)).gap
    assert mirror.fresh(KEY) == STATE
    applied = mirror.apply(_message(4))
    assert applied.gap
    assert mirror.stats.gaps == 1
    assert mirror.fresh(KEY) is None
    assert mirror.begin("stream-2") == [KEY], "the new stream subscribes what was held"


def test_a_repeated_number_is_a_gap_too() -> None:
    mirror = replica.Replica(staleness=5, clock=fixtures.Clock())
    mirror.want(KEY)
    mirror.begin("stream-1")
    mirror.apply(mpb.FollowResponse(sequence=1, status=mpb.Status()))
    assert mirror.apply(mpb.FollowResponse(sequence=1, status=mpb.Status())).gap
