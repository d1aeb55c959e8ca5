"""Concurrent misses for one key make exactly one loader call."""

from __future__ import annotations

import asyncio

import pytest

from stigg_sidecar import cache


async def test_hundred_concurrent_loads_share_one_call() -> None:
    store: cache.Cache[str, str] = cache.Cache(max_bytes=1000)
    calls = 0
    release = asyncio.Event()

    async def loader() -> cache.Loaded[str]:
        nonlocal calls
        calls += 1
        await release.wait()
        return cache.Loaded("value", size=10, ttl=60)

    waiters = [asyncio.create_task(store.load("k", loader)) for _ in range(100)]
    await asyncio.sleep(0)  # let every waiter join the flight before the loader returns
    release.set()
    assert await asyncio.gather(*waiters) == ["value"] * 100
    assert calls == 1
    assert store.get("k") == ("value", True)


async def test_failure_reaches_every_waiter_and_is_not_cached() -> None:
    store: cache.Cache[str, str] = cache.Cache(max_bytes=1000)

    async def failing() -> cache.Loaded[str]:
        await asyncio.sleep(0.01)
        raise ConnectionError("upstream down")

    results = await asyncio.gather(*(store.load("k", failing) for _ in range(5)), return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)
    assert store.get("k") is None

    async def working() -> cache.Loaded[str]:
        return cache.Loaded("ok", size=1, ttl=60)

    assert await store.load("k", working) == "ok", "a failed flight must not block the next load"


async def test_a_caller_giving_up_does_not_cancel_the_shared_load() -> None:
    store: cache.Cache[str, str] = cache.Cache(max_bytes=1000)

    async def slow() -> cache.Loaded[str]:
        await asyncio.sleep(0.05)
        return cache.Loaded("late", size=1, ttl=60)

    with pytest.raises(TimeoutError):
        await asyncio.wait_for(store.load("k", slow), timeout=0.01)
    assert await store.load("k", slow) == "late"
    assert store.stats.loads == 1
