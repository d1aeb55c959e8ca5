"""Entries expire after their own TTL but stay available as stale until evicted."""

from __future__ import annotations

from stigg_sidecar import cache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_entry_goes_stale_after_its_ttl_and_is_kept() -> None:
    clock = Clock()
    store: cache.Cache[str, str] = cache.Cache(max_bytes=1 << 16, clock=clock)
    store.put("positive", "P", size=10, ttl=300)
    store.put("negative", "N", size=1, ttl=10)

    clock.now += 11
    assert store.get("negative") == ("N", False)
    assert store.get("positive") == ("P", True)
    clock.now += 300
    assert store.get("positive") == ("P", False)
    assert (store.stats.hits, store.stats.stale_hits) == (1, 2)


def test_update_keeps_expiry_and_invalidate_removes() -> None:
    clock = Clock()
    store: cache.Cache[str, int] = cache.Cache(max_bytes=1 << 16, clock=clock)
    store.put("k", 1, size=10, ttl=5)
    assert store.update("k", lambda v: v + 41)
    assert not store.update("absent", lambda v: v)
    clock.now += 6
    assert store.get("k") == (42, False)
    store.invalidate("k")
    assert store.get("k") is None
    assert store.bytes == 0
