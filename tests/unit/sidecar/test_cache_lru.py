"""The cache is bounded by bytes (each entry's size plus the table's own overhead per entry)
and evicts the least recently used entries first."""

from __future__ import annotations

from stigg_sidecar import cache

OVERHEAD = cache.ENTRY_OVERHEAD


def test_evicts_least_recently_used_beyond_max_bytes() -> None:
    store: cache.Cache[str, str] = cache.Cache(max_bytes=100 + 2 * OVERHEAD)
    store.put("a", "A", size=40, ttl=60)
    store.put("b", "B", size=40, ttl=60)
    assert store.get("a") == ("A", True)  # a is now the most recently used
    store.put("c", "C", size=40, ttl=60)  # 120 bytes > 100 (overheads aside): evict b

    assert store.get("b") is None
    assert store.get("a") == ("A", True)
    assert store.get("c") == ("C", True)
    assert store.bytes == 80 + 2 * OVERHEAD
    assert store.stats.evictions == 1


def test_replacing_an_entry_accounts_its_new_size() -> None:
    store: cache.Cache[str, str] = cache.Cache(max_bytes=100 + 2 * OVERHEAD)
    store.put("a", "A1", size=70, ttl=60)
    store.put("a", "A2", size=20, ttl=60)
    store.put("b", "B", size=70, ttl=60)
    assert (store.bytes, len(store)) == (90 + 2 * OVERHEAD, 2)
    assert store.get("a") == ("A2", True)


def test_an_entry_larger_than_the_cache_is_not_stored() -> None:
    store: cache.Cache[str, str] = cache.Cache(max_bytes=100 + OVERHEAD)
    store.put("small", "s", size=10, ttl=60)
    store.put("huge", "h", size=101, ttl=60)
    assert store.get("huge") is None
    assert store.get("small") == ("s", True), "a too-large entry must not flush the cache"
