"""No leak: a bounded cache keeps memory flat, and an evicted object is freed."""

from __future__ import annotations

import gc
import tracemalloc
import weakref

import pytest

from flightcache import Cache

pytestmark = pytest.mark.timeout(300)


class Obj:
    __slots__ = ("n", "__weakref__")

    def __init__(self, n: int) -> None:
        self.n = n


def test_an_evicted_object_is_freed() -> None:
    c = Cache(max_entries=64)
    refs = {}
    for i in range(10_000):
        o = Obj(i)
        refs[f"k{i}"] = weakref.ref(o)
        c.set(f"k{i}", o)
        del o
    live = {k for k, r in refs.items() if r() is not None}
    assert len(c) <= 64
    # Exactly the objects still in the cache are alive: every evicted one was freed.
    assert live == set(c.keys())
    assert c.stats().evictions == 10_000 - len(live)


def test_replaced_deleted_expired_and_cleared_objects_are_freed() -> None:
    from flightcache import ManualClock

    clock = ManualClock()
    c = Cache(clock=clock)
    refs = []
    for name, how in [
        ("replaced", lambda: c.set("replaced", 1)),
        ("deleted", lambda: c.delete("deleted")),
        ("cleared", c.clear),
    ]:
        o = Obj(0)
        refs.append(weakref.ref(o))
        c.set(name, o)
        del o
        how()
    o = Obj(0)
    refs.append(weakref.ref(o))
    c.set("expired", o, ttl=10)
    del o
    clock.advance(5000)
    c.purge_expired()
    assert all(r() is None for r in refs)


def test_a_loaded_value_that_failed_to_store_is_freed() -> None:
    c = Cache(max_value_bytes=1, size_of=lambda v: 100)
    o = Obj(0)
    ref = weakref.ref(o)
    got = c.get("k", get_value=lambda: o)
    assert got is o
    del o, got
    assert ref() is None


def test_a_bounded_cache_filled_with_a_million_objects_keeps_memory_flat() -> None:
    c = Cache(max_entries=10_000)
    gc.collect()
    tracemalloc.start()
    try:
        # Fill up to the bound first, then measure over the rest of the stream.
        for i in range(20_000):
            c.set(f"key-{i}", Obj(i))
        gc.collect()
        base, _ = tracemalloc.get_traced_memory()
        for i in range(20_000, 1_000_000):
            c.set(f"key-{i}", Obj(i))
        gc.collect()
        end, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(c) <= 10_000
    assert c.stats().evictions >= 990_000
    # 10,000 live objects take ~0.5 MB; a leak of one object per set would add ~50 MB.
    assert end - base < 1_000_000, (base, end)


def test_the_rss_stays_flat_for_native_memory() -> None:
    # tracemalloc sees Python allocations only; the native store is checked by RSS.
    import resource

    c = Cache(max_entries=10_000)
    for i in range(200_000):
        c.set(f"key-{i}", f"value-{i}")
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB, a high-water mark
    for i in range(200_000, 1_000_000):
        c.set(f"key-{i}", f"value-{i}")
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert rss_after - rss_before < 20_000, (rss_before, rss_after)  # < 20 MB growth
