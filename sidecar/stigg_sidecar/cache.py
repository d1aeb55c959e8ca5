"""The in-process cache: a byte-bounded LRU table with a TTL per entry (no I/O, no loading:
``store`` fills it, one load per key at a time).

* **Bounded by bytes**, not entries: each entry carries its size (the caller's measure of the
  value and its key, for entitlement states ``footprint.of_state``) plus the table's own
  bookkeeping per entry (``ENTRY_OVERHEAD``), and the least recently used entries are evicted
  while the total exceeds ``max_bytes``.
* **TTL per entry**, chosen by the caller (short for negative entries such as an unknown
  customer). Expired entries are not dropped: they stay until evicted, so that a caller can
  serve them when the upstream fails (stale-if-error). ``get`` says whether an entry is fresh.
* **As of when**: each entry remembers the moment its value was current (for a load, when
  the store *started* asking). A live event stream keeps entries current from the moment it
  subscribed, so ``get(key, fresh_since=t)`` counts an entry as of ``t`` or later as fresh
  whatever its TTL; ``held_before(t)`` lists the others, which a resync must refresh.
* **Watched**: a ``listener``, when set, is called after every change of an entry with the
  new entry, or None when it left (evicted, invalidated): the one place that sees every
  write, so a mirror (``mirror.hub``) cannot miss one.

Nothing here awaits, so on one event loop no locks are needed.
"""

from __future__ import annotations

import collections
import dataclasses
import math
import sys
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclasses.dataclass(frozen=True, slots=True)
class Entry(Generic[V]):
    value: V
    size: int
    expires_at: float
    as_of: float

    def fresh(self, now: float, since: float | None = None) -> bool:
        return now < self.expires_at or (since is not None and self.as_of >= since)


# What the table itself holds per entry beyond the value and key: the Entry with its two
# floats, and an OrderedDict slot with its link node (about 96 bytes, measured with tracemalloc).
ENTRY_OVERHEAD = sys.getsizeof(Entry(None, 0, 0.0, 0.0)) + 2 * sys.getsizeof(0.5) + 96


@dataclasses.dataclass(slots=True)
class Stats:
    hits: int = 0
    stale_hits: int = 0
    misses: int = 0
    evictions: int = 0


class Cache(Generic[K, V]):
    """See the module docstring."""

    def __init__(self, *, max_bytes: int, clock: Callable[[], float] = time.monotonic) -> None:
        if max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        self.max_bytes = max_bytes
        self._clock = clock
        self._entries: collections.OrderedDict[K, Entry[V]] = collections.OrderedDict()
        self._bytes = 0
        self.stats = Stats()
        self.listener: Callable[[K, Entry[V] | None], None] | None = None

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def bytes(self) -> int:
        return self._bytes

    def now(self) -> float:
        return self._clock()

    def get(self, key: K, fresh_since: float | None = None) -> tuple[V, bool] | None:
        """``(value, is_fresh)`` for a cached key, expired entries included; marks it recently used.

        With ``fresh_since``, an entry current as of that moment or later is fresh even past its TTL.
        """
        entry = self._entries.get(key)
        if entry is None:
            self.stats.misses += 1
            return None
        self._entries.move_to_end(key)
        fresh = entry.fresh(self._clock(), fresh_since)
        if fresh:
            self.stats.hits += 1
        else:
            self.stats.stale_hits += 1
        return entry.value, fresh

    def expired_for(self, key: K) -> float | None:
        """How many seconds ago the entry's TTL ran out (negative while fresh); None if absent."""
        entry = self._entries.get(key)
        return None if entry is None else self._clock() - entry.expires_at

    def peek(self, key: K) -> V | None:
        """The cached value (fresh or not) without counting a hit or touching the LRU order."""
        entry = self._entries.get(key)
        return None if entry is None else entry.value

    def entry(self, key: K) -> Entry[V] | None:
        """The cached entry with its expiry and as-of moment, like ``peek``."""
        return self._entries.get(key)

    def put(self, key: K, value: V, *, size: int, ttl: float, as_of: float | None = None) -> None:
        """Store ``value`` (replacing any entry for ``key``), then evict down to ``max_bytes``.

        ``size`` is what the value and key hold; the entry counts ``ENTRY_OVERHEAD`` more."""
        held = self._pop(key)
        size += ENTRY_OVERHEAD
        if size > self.max_bytes:
            if held is not None:  # would evict everything else and still not fit
                self._changed(key, None)
            return
        now = self._clock()
        entry = Entry(value, size, now + ttl, now if as_of is None else as_of)
        self._entries[key] = entry
        self._bytes += size
        self._changed(key, entry)
        while self._bytes > self.max_bytes:
            evicted_key, evicted = self._entries.popitem(last=False)
            self._bytes -= evicted.size
            self.stats.evictions += 1
            self._changed(evicted_key, None)

    def update(self, key: K, change: Callable[[V], V]) -> bool:
        """Replace a cached value in place (same size and expiry: for changes that keep the
        value's size, such as a new number); False if not cached."""
        entry = self._entries.get(key)
        if entry is None:
            return False
        entry = self._entries[key] = dataclasses.replace(entry, value=change(entry.value))
        self._changed(key, entry)
        return True

    def expire(self, key: K) -> None:
        """Make an entry stale (it still answers if a reload fails) and as of long ago."""
        entry = self._entries.get(key)
        if entry is not None:
            entry = self._entries[key] = dataclasses.replace(entry, expires_at=-math.inf, as_of=-math.inf)
            self._changed(key, entry)

    def held_before(self, moment: float) -> list[K]:
        """The keys whose entries are current only as of before ``moment``."""
        return [key for key, entry in self._entries.items() if entry.as_of < moment]

    def as_of(self, key: K) -> float | None:
        """The moment the entry's value was current as of; None if absent."""
        entry = self._entries.get(key)
        return None if entry is None else entry.as_of

    def invalidate(self, key: K) -> None:
        if self._pop(key) is not None:
            self._changed(key, None)

    def _pop(self, key: K) -> Entry[V] | None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= entry.size
        return entry

    def _changed(self, key: K, entry: Entry[V] | None) -> None:
        if self.listener is not None:
            self.listener(key, entry)
