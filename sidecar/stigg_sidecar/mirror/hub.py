"""The sidecar's side of the mirror: who follows which customer, and every change fanned out.

``Hub`` is the store's ``Observer``: the cache calls it after every change of an entry (a load,
a refetch, a resync, an event, usage any caller reported, an eviction), synchronously, so a
change reaches the streams in the order the store applied it. A change of a customer nobody
follows costs one dict lookup. For a followed one the state is serialized once
(``codec.state_message``) and framed for each stream with that stream's next sequence number.

Each ``Stream`` (one per Follow call) buffers at most ``buffer`` messages. A stream whose
client reads too slowly to keep its buffer below that is dropped at once: its buffer is
freed, its subscriptions go, and its Follow call ends with RESOURCE_EXHAUSTED (``service``);
the client subscribes again on a new stream. So a slow client costs the sidecar at most
``buffer`` messages of memory and never delays the store, the checks or other streams.

A stream's first message is a ``Status`` (the stream's live epoch, the heartbeat interval);
another follows whenever the real-time stream goes live (a new epoch) or down (epoch 0), and
as a heartbeat after ``heartbeat`` seconds without a message. A state names the epoch it is
current in: an entry as of the moment the real-time stream went live or later stays fresh
while that epoch lasts, as the store's own ``lookup`` judges it.
"""

from __future__ import annotations

import asyncio
import collections
import logging

from stigg_sidecar import cache, metrics, model, store
from stigg_sidecar.mirror import codec
from stigg_sidecar.v1 import mirror_pb2 as mpb

logger = logging.getLogger(__name__)


class Ended(Exception):
    """Why a stream ended on the sidecar's side (its Follow call ends with the code named)."""

    code = "UNAVAILABLE"


class Dropped(Ended):
    """The stream's client read too slowly: its buffer filled up."""

    code = "RESOURCE_EXHAUSTED"


class Stream:
    """One Follow call: its buffer of framed messages, its sequence and its subscriptions."""

    def __init__(self, stream_id: str, buffer: int) -> None:
        self.id = stream_id
        self.keys: set[model.CustomerKey] = set()
        self.sequence = 0  # of the last message buffered
        self.ended: Ended | None = None
        self._limit = buffer
        self._buffer: collections.deque[bytes] = collections.deque()
        self._ready = asyncio.Event()

    def __len__(self) -> int:
        return len(self._buffer)

    @property
    def dropped(self) -> bool:
        return isinstance(self.ended, Dropped)

    def push(self, field: int, payload: bytes) -> bool:
        """Buffer one change; False if the stream has ended, or ends now because its buffer is full."""
        if self.ended is not None:
            return False
        if len(self._buffer) >= self._limit:
            self.end(Dropped(f"the client read too slowly: {self._limit} messages waited"))
            return False
        self.sequence += 1
        self._buffer.append(codec.frame(self.sequence, field, payload))
        self._ready.set()
        return True

    def end(self, why: Ended) -> None:
        """End the stream: what is buffered is discarded, a waiting ``next`` raises ``why``."""
        if self.ended is None:
            self.ended = why
            self._buffer.clear()
            self._ready.set()

    def wake(self) -> None:
        """Make a waiting ``next`` return (with None if nothing is buffered)."""
        self._ready.set()

    async def next(self, within: float) -> bytes | None:
        """The next message, or None after ``within`` seconds without one (or when woken with
        nothing buffered); raises the ``Ended`` reason once the stream has ended."""
        if not self._buffer and self.ended is None:
            self._ready.clear()
            try:
                async with asyncio.timeout(within):
                    await self._ready.wait()
            except TimeoutError:
                return None
        if self.ended is not None:
            raise self.ended
        return self._buffer.popleft() if self._buffer else None


class Hub:
    """See the module docstring."""

    def __init__(
        self,
        entitlements: store.EntitlementStore,
        sidecar_metrics: metrics.Metrics,
        *,
        buffer: int = 10_000,
        heartbeat: float = 1.0,
        max_keys: int = 100_000,
    ) -> None:
        self._store = entitlements
        self._metrics = sidecar_metrics
        self.buffer = buffer
        self.heartbeat = heartbeat
        self.max_keys = max_keys
        self._streams: dict[str, Stream] = {}
        self._following: dict[model.CustomerKey, set[Stream]] = {}
        self._epochs = 0
        self._epoch = 0
        self._live_since: float | None = None
        entitlements.observe(self)
        if entitlements.live_since is not None:
            self.stream_changed(entitlements.live_since)

    # -- what is followed -----------------------------------------------------------------------

    @property
    def streams(self) -> int:
        return len(self._streams)

    @property
    def subscriptions(self) -> int:
        return sum(len(stream.keys) for stream in self._streams.values())

    def open(self, stream_id: str) -> Stream:
        """A new stream; one already open under the same id is dropped (its client reconnected)."""
        previous = self._streams.get(stream_id)
        if previous is not None:
            previous.end(Ended("another stream took its id"))
            self.close(previous)
        stream = Stream(stream_id, self.buffer)
        self._streams[stream_id] = stream
        stream.push(codec.STATUS, self._status())
        self._metrics.mirror_streams.set(len(self._streams))
        return stream

    def close(self, stream: Stream) -> None:
        """The stream ended: its subscriptions go."""
        if self._streams.get(stream.id) is stream:
            del self._streams[stream.id]
        self.unsubscribe(stream, list(stream.keys))
        self._metrics.mirror_streams.set(len(self._streams))

    def sequence(self, stream_id: str) -> int | None:
        """The sequence number of the stream's last message (what a write's answer carries)."""
        stream = self._streams.get(stream_id)
        return None if stream is None else stream.sequence

    def subscribe(self, stream: Stream, keys: list[model.CustomerKey]) -> None:
        """Follow ``keys`` on ``stream``: each answered with its state now, or ``absent``."""
        for key in keys:
            if key not in stream.keys:
                if len(stream.keys) >= self.max_keys:
                    raise TooManyKeys(f"a stream follows at most {self.max_keys} customers")
                stream.keys.add(key)
                self._following.setdefault(key, set()).add(stream)
            field, payload = self._change(key, self._store.entry(key))
            if not stream.push(field, payload):
                self._dropped(stream)
                return

    def unsubscribe(self, stream: Stream, keys: list[model.CustomerKey]) -> None:
        for key in keys:
            stream.keys.discard(key)
            followers = self._following.get(key)
            if followers is not None:
                followers.discard(stream)
                if not followers:
                    del self._following[key]

    # -- store.Observer -------------------------------------------------------------------------

    def entry_changed(
        self, key: model.CustomerKey, entry: cache.Entry[model.EntitlementState] | None
    ) -> None:
        followers = self._following.get(key)
        if not followers:
            return
        field, payload = self._change(key, entry)
        for stream in list(followers):
            if not stream.push(field, payload):
                self._dropped(stream)
        self._metrics.mirror_changes.inc()

    def stream_changed(self, live_since: float | None) -> None:
        self._live_since = live_since
        if live_since is None:
            self._epoch = 0
        else:
            self._epochs += 1
            self._epoch = self._epochs
        self._broadcast_status()

    # -- heartbeats ----------------------------------------------------------------------------

    def heartbeat_of(self, stream: Stream) -> None:
        """``stream`` sent nothing for ``heartbeat`` seconds: a Status says it is alive."""
        if not stream.push(codec.STATUS, self._status()):
            self._dropped(stream)

    # -- internals ------------------------------------------------------------------------------

    def _status(self) -> bytes:
        return mpb.Status(live_epoch=self._epoch, heartbeat_seconds=self.heartbeat).SerializeToString()

    def _broadcast_status(self) -> None:
        status = self._status()
        for stream in list(self._streams.values()):
            if not stream.push(codec.STATUS, status):
                self._dropped(stream)

    def _change(
        self, key: model.CustomerKey, entry: cache.Entry[model.EntitlementState] | None
    ) -> tuple[int, bytes]:
        if entry is None:
            return codec.ABSENT, codec.key_message(key).SerializeToString()
        current = self._epoch if self._live_since is not None and entry.as_of >= self._live_since else 0
        message = codec.state_message(
            entry.value, fresh_for=entry.expires_at - self._store.now(), current_epoch=current
        )
        return codec.STATE, message.SerializeToString()

    def shutdown(self) -> None:
        """The sidecar is stopping: every stream ends (UNAVAILABLE), so no Follow call holds up
        the shutdown and the clients go back to asking over gRPC."""
        for stream in list(self._streams.values()):
            stream.end(Ended("the sidecar is shutting down"))
            self.close(stream)

    def _dropped(self, stream: Stream) -> None:
        """A push found ``stream`` ended (its buffer full, most likely): it follows nothing more."""
        if self._streams.get(stream.id) is not stream:
            return
        if stream.dropped:
            logger.warning(
                "mirror stream %s dropped: its client read too slowly (%d messages waited)",
                stream.id,
                self.buffer,
            )
            self._metrics.mirror_dropped_streams.inc()
        self.close(stream)


class TooManyKeys(Exception):
    """A stream asked to follow more customers than ``Hub.max_keys``."""
