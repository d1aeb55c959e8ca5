"""Usage this client reported shows at once, whether the sidecar's message carrying it arrives
before or after the write's answer, and is never counted twice: the answer's usage is the
sidecar's total, kept over the messages that may predate the write."""

from __future__ import annotations

from stigg_sidecar import model
from stigg_sidecar.mirror import codec, replica
from stigg_sidecar.v1 import mirror_pb2 as mpb
from tests.unit.sidecar.mirror import test_replica_freshness as fixtures

KEY = ("customer-1", None)
SEATS = model.Feature("feature-seats", model.FeatureType.NUMBER, model.MeterType.INCREMENTAL)
ROWS = model.Feature("feature-rows", model.FeatureType.NUMBER, model.MeterType.INCREMENTAL)


def _state(seats: float, rows: float = 0.0, limit: float = 100.0) -> model.EntitlementState:
    return model.EntitlementState(
        model.CustomerKey("customer-1"),
        {
            SEATS.id: model.Entitlement(SEATS, usage_limit=limit, current_usage=seats),
            ROWS.id: model.Entitlement(ROWS, usage_limit=limit, current_usage=rows),
        },
    )


class Feed:
    def __init__(self) -> None:
        self.mirror = replica.Replica(staleness=5, clock=fixtures.Clock())
        self.mirror.want(KEY)
        self.mirror.begin("stream-1")
        self.sequence = 0
        self.send_status()

    def send_status(self) -> int:
        self.sequence += 1
        self.mirror.apply(mpb.FollowResponse(sequence=self.sequence, status=mpb.Status()))
        return self.sequence

    def send(self, state: model.EntitlementState) -> int:
        self.sequence += 1
        message = codec.state_message(state, fresh_for=60, current_epoch=0)
        self.mirror.apply(mpb.FollowResponse(sequence=self.sequence, state=message))
        return self.sequence

    def usage(self, feature: model.Feature = SEATS) -> float:
        state = self.mirror.fresh(KEY)
        assert state is not None
        return state.entitlements[feature.id].current_usage


def test_the_answer_first_then_the_message() -> None:
    feed = Feed()
    feed.send(_state(10))
    # The sidecar applied +5 and queued its message as number 3; the answer arrives first.
    feed.mirror.own_usage(KEY, SEATS.id, 15, "stream-1", 3)
    assert feed.usage() == 15
    assert feed.send(_state(15)) == 3
    assert feed.usage() == 15


def test_the_message_first_then_the_answer() -> None:
    feed = Feed()
    feed.send(_state(10))
    assert feed.send(_state(15)) == 3  # carries the write
    feed.send(_state(30))  # then usage SET elsewhere
    feed.mirror.own_usage(KEY, SEATS.id, 15, "stream-1", 3)  # the write's answer, late
    assert feed.usage() == 30, "the messages showed the write already, and a later change"


def test_a_message_that_predates_the_write_keeps_the_write() -> None:
    feed = Feed()
    feed.send(_state(10))
    feed.mirror.own_usage(KEY, SEATS.id, 15, "stream-1", 4)  # message 3 was queued before the write
    feed.send(_state(10, rows=2))  # number 3: another change, from before the write
    assert (feed.usage(), feed.usage(ROWS)) == (15, 2), "the write and the other change both show"
    feed.send(_state(15, rows=2))  # number 4 carries the write
    assert feed.usage() == 15
    feed.send(_state(30, rows=2))  # a later change elsewhere (SET 30)
    assert feed.usage() == 30


def test_answers_that_arrive_out_of_order_keep_the_later_write() -> None:
    feed = Feed()
    feed.send(_state(10))
    feed.mirror.own_usage(KEY, SEATS.id, 12, "stream-1", 4)  # the second write's answer came first
    feed.mirror.own_usage(KEY, SEATS.id, 11, "stream-1", 3)
    assert feed.usage() == 12


def test_writes_to_two_features_in_one_bulk_each_show() -> None:
    feed = Feed()
    feed.send(_state(10, rows=1))
    feed.mirror.own_usage(KEY, SEATS.id, 11, "stream-1", 4)
    feed.mirror.own_usage(KEY, ROWS.id, 3, "stream-1", 4)
    assert (feed.usage(), feed.usage(ROWS)) == (11, 3)
    feed.send(_state(11, rows=1))  # number 3: the first report's message, before the second's
    assert (feed.usage(), feed.usage(ROWS)) == (11, 3)
    feed.send(_state(11, rows=3))
    assert (feed.usage(), feed.usage(ROWS)) == (11, 3)


def test_a_write_on_an_older_stream_waits_for_the_new_one() -> None:
    feed = Feed()
    feed.send(_state(10))
    feed.mirror.own_usage(KEY, SEATS.id, 15, "stream-0", 3)
    assert feed.usage() == 10, "the stream it names is gone; the new stream's state shows it"


def test_the_decisions_follow_an_own_write() -> None:
    feed = Feed()
    feed.send(_state(99, limit=100))
    decision = feed.mirror.decided(KEY, SEATS.id, model.CheckKind.METERED)
    assert decision is not None
    assert decision.entitlement is not None
    assert decision.entitlement.current_usage == 99
    feed.mirror.own_usage(KEY, SEATS.id, 100, "stream-1", 3)
    decision = feed.mirror.decided(KEY, SEATS.id, model.CheckKind.METERED)
    assert decision is not None
    assert decision.entitlement is not None
    assert decision.entitlement.current_usage == 100
