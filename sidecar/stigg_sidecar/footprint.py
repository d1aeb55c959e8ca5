"""What a cached entitlement state costs in memory, keys included: the measure the cache's
byte bound (``SIDECAR_CACHE_MAX_SIZE_BYTES``) counts.

The size of the upstream body a state was parsed from is a poor measure: an unknown customer's
answer is a few hundred bytes whatever the length of its id, while the state held for it keeps
that id (twice over, in the key and the state). So the cache counts the parsed objects
themselves: ``of_state`` walks the state's object graph (its key, every entitlement and
feature, their strings, numbers, dates and enum values) and adds up ``sys.getsizeof`` of each
object once. Objects shared by every state (``None``, booleans, enum members) cost nothing. The
cache adds its own bookkeeping per entry (see ``cache.ENTRY_OVERHEAD``). A test measures the
total against the process's allocations (``tracemalloc``).

A walk costs a few microseconds per entitlement; it runs when a state is stored (after an
upstream fetch, a Redis read or a real-time event), never on a check.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import sys
from collections.abc import Mapping

from stigg_sidecar import model

_LEAVES = (str, bytes, int, float, datetime.datetime, datetime.date)


def of_state(state: model.EntitlementState) -> int:
    """The bytes ``state`` holds, counting every object reachable from it once."""
    return _size(state, set())


def _size(value: object, seen: set[int]) -> int:
    if value is None or isinstance(value, (bool, enum.Enum)) or id(value) in seen:
        return 0
    seen.add(id(value))
    total = sys.getsizeof(value)
    if isinstance(value, _LEAVES):
        return total
    if isinstance(value, Mapping):
        return total + sum(_size(k, seen) + _size(v, seen) for k, v in value.items())
    if isinstance(value, (tuple, list, frozenset, set)):
        return total + sum(_size(item, seen) for item in value)
    if dataclasses.is_dataclass(value):
        return total + sum(_size(getattr(value, field.name), seen) for field in dataclasses.fields(value))
    return total
