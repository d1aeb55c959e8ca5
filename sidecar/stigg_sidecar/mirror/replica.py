"""A mirrored client's copy of the customers it follows: what may answer in-process, and when.

Pure bookkeeping, no I/O (the clock is injected); the clients (``client``) feed it the Follow
stream's messages and ask it on every check. One writer at a time changes it (the stream's
reader, or a write's answer, under ``lock``); checks only read, from any thread.

A held state answers (``fresh``) only while all of these hold:

* **heard recently**: a message of the stream (a heartbeat at least) arrived within
  ``staleness`` seconds; with the stream down or the sidecar stopped, the copy may be behind,
  so checks go back to gRPC (and so to the sidecar's fail-safe chain) once the bound passes;
* **confirmed on the current stream**: a new stream (after a reconnection or a gap) starts a
  new ``generation``, and a state answers again only once the new stream sent it;
* **fresh as the sidecar judges it**: within its cache TTL as sent (``fresh_for_seconds``),
  or current in the sidecar's live real-time epoch (``Status.live_epoch``).

Sequence numbers: ``apply`` expects 1, 2, 3, ... on a stream; anything else is a gap
(``Applied.gap``), and the client starts a new stream. Reads of own writes: a write answered
with the stream's sequence ``n`` applies its usage at once (``own_usage``) unless the stream
already delivered message ``n`` or later for the customer, and keeps that usage over the
customer's messages older than ``n`` (they may predate the write; every message from ``n`` on
shows it). The usage is the sidecar's total after the write, not an increment, so the copy
shows the write at once and never counts it twice.

Memory is bounded: at most ``max_customers`` are held or awaited; beyond that the least
recently used are forgotten and returned for the client to unsubscribe. Recency is tracked
the CLOCK way (second chance), an approximation of LRU: a check only marks the state it read
(``used``), and eviction passes over marked states once, unmarking them, before it forgets
one; a check never reorders the table, which would touch its neighbours' memory too.
"""

from __future__ import annotations

import collections
import dataclasses
import math
import threading
import time
from collections.abc import Callable

from stigg_sidecar import model, semantics, wire
from stigg_sidecar.mirror import codec
from stigg_sidecar.v1 import mirror_pb2 as mpb

Key = tuple[str, str | None]  # (customer_id, resource_id): cheaper to build per check than a CustomerKey


@dataclasses.dataclass(slots=True)
class Held:
    state: model.EntitlementState
    fresh_until: float  # on the replica's clock
    epoch: int  # the live epoch the state is current in (0: none)
    generation: int  # the stream that sent it
    sequence: int  # of the last message applied for this customer
    # Writes of ours shown ahead of the stream, by feature: (usage, the stream's sequence n
    # after the write); messages before n may predate the write, so the usage is kept over them.
    own: dict[str, tuple[float, int]] | None = None
    # The rules' answers for this state to checks without requested usage or values, by
    # (feature, kind): the state is immutable, so they are decided once (``decided``).
    decisions: dict[tuple[str, model.CheckKind], semantics.Decision] = dataclasses.field(default_factory=dict)
    used: bool = False  # read by a check since it came, or since eviction last passed over it


@dataclasses.dataclass(frozen=True, slots=True)
class Applied:
    """What applying one message asks of the client."""

    gap: bool = False  # a message was missed: start a new stream
    forget: tuple[Key, ...] = ()  # evicted: unsubscribe them


@dataclasses.dataclass(slots=True)
class Stats:
    messages: int = 0
    states: int = 0
    gaps: int = 0
    streams: int = 0
    evictions: int = 0


_NO_CHANGE = Applied()


def key_of(message: mpb.CustomerKey) -> Key:
    return (message.customer_id, message.resource_id or None)


def key_message(key: Key) -> mpb.CustomerKey:
    return mpb.CustomerKey(customer_id=key[0], resource_id=key[1])


class Replica:
    """See the module docstring."""

    def __init__(
        self, *, staleness: float, max_customers: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if staleness <= 0:
            raise ValueError("staleness must be positive")
        if max_customers <= 0:
            raise ValueError("max_customers must be positive")
        self.staleness = staleness
        self.max_customers = max_customers
        self.lock = threading.Lock()
        self.stats = Stats()
        self.stream_id: str | None = None
        self.heartbeat: float | None = None  # the sidecar's, from its Status
        self._clock = clock
        self._held: collections.OrderedDict[Key, Held] = collections.OrderedDict()
        self._wanted: set[Key] = set()  # subscribed (or to subscribe), no state yet
        self._generation = 0
        self._expected = 1
        self._heard_at = -math.inf
        self._live_epoch = 0

    def __len__(self) -> int:
        return len(self._held)

    # -- checks (any thread) --------------------------------------------------------------------

    def fresh(self, key: Key) -> model.EntitlementState | None:
        """The held state of ``key`` if it may answer now (the module docstring's rules)."""
        held = self._fresh(key)
        return None if held is None else held.state

    def decided(self, key: Key, feature_id: str, kind: model.CheckKind) -> semantics.Decision | None:
        """``semantics.evaluate`` of a check without requested usage or values against the
        held state of ``key``, if it may answer now and holds the feature (the sidecar says
        whether an unknown feature exists), decided once per state."""
        held = self._fresh(key)
        if held is None:
            return None
        decision = held.decisions.get((feature_id, kind))
        if decision is not None:
            return decision
        state = held.state
        if state.denied_reason is None and feature_id not in state.entitlements:
            return None
        if not feature_id.strip() or len(feature_id) > wire.MAX_ID_LENGTH:
            return None  # the sidecar refuses it, naming the field
        decision = semantics.evaluate(state, feature_id, kind)
        if state.denied_reason is None:  # bounded: only features the state holds
            held.decisions[feature_id, kind] = decision
        return decision

    def _fresh(self, key: Key) -> Held | None:
        held = self._held.get(key)
        if held is None:
            return None
        now = self._clock()
        if now - self._heard_at > self.staleness or held.generation != self._generation:
            return None
        if not ((held.epoch and held.epoch == self._live_epoch) or now < held.fresh_until):
            return None
        held.used = True
        return held

    def heard_within(self) -> bool:
        """Whether the stream was heard from within the staleness bound."""
        return self._clock() - self._heard_at <= self.staleness

    def want(self, key: Key) -> bool:
        """A check of ``key`` went to the sidecar: True if it is to be subscribed now."""
        if key in self._held or key in self._wanted:
            return False
        with self.lock:
            if key in self._held or key in self._wanted:
                return False
            self._wanted.add(key)
            return True

    def followed(self) -> list[Key]:
        """Every key held or awaited (what a new stream subscribes)."""
        with self.lock:
            return [*self._held, *self._wanted]

    # -- the stream (its reader) ----------------------------------------------------------------

    def begin(self, stream_id: str) -> list[Key]:
        """A new stream starts: nothing held answers until this stream sends it again. Returns
        the keys to subscribe on it."""
        with self.lock:
            self.stream_id = stream_id
            self._generation += 1
            self._expected = 1
            self.stats.streams += 1
            return [*self._held, *self._wanted]

    def apply(self, message: mpb.FollowResponse) -> Applied:
        """One message of the current stream."""
        with self.lock:
            if message.sequence != self._expected:
                self.stats.gaps += 1
                self._generation += 1  # nothing held answers until a new stream confirms it
                return Applied(gap=True)
            self._expected += 1
            now = self._clock()
            self._heard_at = now
            self.stats.messages += 1
            change = message.WhichOneof("change")
            if change == "state":
                return self._state(message.sequence, message.state, now)
            if change == "absent":
                key = key_of(message.absent)
                if self._held.pop(key, None) is not None:
                    self._wanted.add(key)  # still subscribed: its state follows once held
            elif change == "status":
                self._live_epoch = message.status.live_epoch
                self.heartbeat = message.status.heartbeat_seconds
            return _NO_CHANGE

    def _state(self, sequence: int, message: mpb.CustomerState, now: float) -> Applied:
        key = key_of(message.key)
        held = self._held.get(key)
        if held is None and key not in self._wanted:
            return _NO_CHANGE  # unsubscribed meanwhile
        self._wanted.discard(key)
        state = codec.state_of(message)
        own = None
        if held is not None and held.own and held.generation == self._generation:
            own = {feature: write for feature, write in held.own.items() if write[1] > sequence} or None
            for feature_id, (usage, _after) in (own or {}).items():
                state = state.with_usage(feature_id, usage)
        self._held[key] = Held(
            state, now + message.fresh_for_seconds, message.current_epoch, self._generation, sequence, own
        )
        self._held.move_to_end(key)
        self.stats.states += 1
        return self._evict()

    def _evict(self) -> Applied:
        over = len(self._held) + len(self._wanted) - self.max_customers
        if over <= 0:
            return _NO_CHANGE
        forget: list[Key] = []
        chances = len(self._held)  # each state passed over once at most: the loop ends
        while len(forget) < over and self._held:
            key, held = next(iter(self._held.items()))
            if held.used and chances > 0:
                held.used = False  # a second chance, at the back
                self._held.move_to_end(key)
                chances -= 1
                continue
            del self._held[key]
            forget.append(key)
        self.stats.evictions += len(forget)
        return Applied(forget=tuple(forget))

    def ended(self, stream_id: str) -> None:
        """The stream ended; its states answer until the staleness bound passes."""
        with self.lock:
            if self.stream_id == stream_id:
                self.stream_id = None

    # -- own writes -----------------------------------------------------------------------------

    def own_usage(self, key: Key, feature_id: str, usage: float, stream_id: str, sequence: int) -> None:
        """A write on ``stream_id`` was applied by the sidecar at ``sequence``, with the feature's
        usage now ``usage``: show it at once unless the stream delivered it already."""
        with self.lock:
            held = self._held.get(key)
            if held is None or stream_id != self.stream_id or held.generation != self._generation:
                return  # not held, or a new stream sends the state with the write anyway
            if held.sequence >= sequence:
                return  # message `sequence` (or a later one) showed the write already
            shown = (held.own or {}).get(feature_id)
            if shown is not None and shown[1] >= sequence:
                return  # a later write of ours (answered first) is shown already
            held.state = held.state.with_usage(feature_id, usage)
            held.decisions = {}
            held.own = {**(held.own or {}), feature_id: (usage, sequence)}
