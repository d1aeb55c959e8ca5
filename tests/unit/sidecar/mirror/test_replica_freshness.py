"""The replica answers only from a state that may answer now: heard from within the staleness
bound, confirmed on the current stream, and fresh as the sidecar judged it (its TTL, or the
sidecar's live epoch)."""

from __future__ import annotations

from stigg_sidecar import model
from stigg_sidecar.mirror import codec, replica
from stigg_sidecar.v1 import mirror_pb2 as mpb

KEY = ("customer-1", None)
STATE = model.EntitlementState(
    model.CustomerKey("customer-1"),
    {"feature-sso": model.Entitlement(model.Feature("feature-sso", model.FeatureType.BOOLEAN))},
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Stream:
    """Feeds a replica the messages of one stream, numbered as the sidecar numbers them."""

    def __init__(self, mirror: replica.Replica) -> None:
        self.mirror = mirror
        self.sequence = 0
        mirror.begin(f"stream-{mirror.stats.streams + 1}")

    def send(self, **change: object) -> replica.Applied:
        self.sequence += 1
        return self.mirror.apply(mpb.FollowResponse(sequence=self.sequence, **change))  # type: ignore[arg-type]

    def status(self, epoch: int = 0) -> replica.Applied:
        return self.send(status=mpb.Status(live_epoch=epoch, heartbeat_seconds=0.5))

    def state(self, fresh_for: float = 60.0, epoch: int = 0, state: model.EntitlementState = STATE) -> None:
        self.send(state=codec.state_message(state, fresh_for=fresh_for, current_epoch=epoch))


def _replica(clock: Clock, staleness: float = 2.0) -> replica.Replica:
    mirror = replica.Replica(staleness=staleness, clock=clock)
    mirror.want(KEY)
    return mirror


def test_a_subscribed_state_answers_until_the_stream_goes_quiet_for_the_bound() -> None:
    clock = Clock()
    mirror = _replica(clock)
    stream = Stream(mirror)
    stream.status()
    assert mirror.fresh(KEY) is None, "nothing held yet"
    stream.state()
    assert mirror.fresh(KEY) == STATE
    clock.now += 1.9
    assert mirror.fresh(KEY) == STATE
    stream.status()  # a heartbeat
    clock.now += 1.9
    assert mirror.fresh(KEY) == STATE
    clock.now += 0.2  # 2.1 s since the heartbeat
    assert mirror.fresh(KEY) is None
    assert mirror.decided(KEY, "feature-sso", model.CheckKind.BOOLEAN) is None


def test_the_sidecar_ttl_bounds_a_state_when_it_is_not_live() -> None:
    clock = Clock()
    mirror = _replica(clock, staleness=100)
    stream = Stream(mirror)
    stream.status(epoch=0)
    stream.state(fresh_for=5.0)
    clock.now += 4.9
    assert mirror.fresh(KEY) == STATE
    clock.now += 0.2
    assert mirror.fresh(KEY) is None, "expired in the sidecar's cache: the sidecar has to refresh it"


def test_a_state_current_in_the_live_epoch_outlives_its_ttl_until_the_epoch_ends() -> None:
    clock = Clock()
    mirror = _replica(clock, staleness=100)
    stream = Stream(mirror)
    stream.status(epoch=3)
    stream.state(fresh_for=5.0, epoch=3)
    clock.now += 50
    assert mirror.fresh(KEY) == STATE, "the sidecar's stream keeps it current"
    stream.status(epoch=0)  # the sidecar's real-time stream dropped
    assert mirror.fresh(KEY) is None, "back under its TTL, which has run out"
    stream.state(fresh_for=5.0, epoch=0)
    stream.status(epoch=4)  # reconnected: a new epoch, the state is from before it
    clock.now += 6
    assert mirror.fresh(KEY) is None


def test_a_new_stream_answers_only_what_it_sent_again() -> None:
    clock = Clock()
    mirror = _replica(clock)
    first = Stream(mirror)
    first.status()
    first.state()
    assert mirror.fresh(KEY) == STATE
    second = Stream(mirror)  # reconnected
    assert mirror.fresh(KEY) is None
    second.status()
    assert mirror.fresh(KEY) is None, "heard from, but the state is not confirmed yet"
    second.state()
    assert mirror.fresh(KEY) == STATE


def test_absent_forgets_the_state_and_keeps_the_subscription() -> None:
    clock = Clock()
    mirror = _replica(clock)
    stream = Stream(mirror)
    stream.status()
    stream.state()
    stream.send(absent=mpb.CustomerKey(customer_id="customer-1"))
    assert mirror.fresh(KEY) is None
    assert mirror.followed() == [KEY]
    stream.state()
    assert mirror.fresh(KEY) == STATE


def test_decisions_are_the_rules_and_unknown_features_go_to_the_sidecar() -> None:
    clock = Clock()
    mirror = _replica(clock)
    stream = Stream(mirror)
    stream.status()
    stream.state()
    decision = mirror.decided(KEY, "feature-sso", model.CheckKind.BOOLEAN)
    assert decision is not None
    assert decision.has_access
    mismatch = mirror.decided(KEY, "feature-sso", model.CheckKind.METERED)
    assert mismatch is not None
    assert mismatch.denied_reason is model.DeniedReason.FEATURE_TYPE_MISMATCH
    assert mirror.decided(KEY, "feature-unknown", model.CheckKind.BOOLEAN) is None
    assert mirror.decided(KEY, " ", model.CheckKind.BOOLEAN) is None
