"""What a careless user, or an unlucky one, runs into: each case once gave a wrong answer,
a leak or a hang."""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import threading
import time
import weakref

import pytest

from flightcache import Cache, LoaderError, ManualClock

pytestmark = pytest.mark.timeout(60)


def test_a_thread_loader_raising_stopiteration_does_not_hang_asyncio_waiters() -> None:
    c = Cache()
    entered = threading.Event()
    release = threading.Event()

    def loader() -> str:
        entered.set()
        release.wait(5)
        raise StopIteration("no more")

    t = threading.Thread(target=lambda: pytest.raises(StopIteration, c.get, "k", loader))
    t.start()
    entered.wait(5)

    async def wait() -> object:
        waiting = asyncio.ensure_future(c.aget("k", get_value=lambda: "unused"))
        await asyncio.sleep(0.05)  # joined the thread's load
        assert c.stats().misses == 2
        release.set()
        return await asyncio.wait_for(waiting, 5)

    # The waiter gets an error, not a hang (a StopIteration cannot cross a coroutine).
    with pytest.raises((StopIteration, RuntimeError)):
        asyncio.run(wait())
    t.join(5)
    assert not t.is_alive()


def test_asyncio_run_of_aget_joins_a_load_another_thread_runs() -> None:
    c = Cache()
    entered = threading.Event()

    def slow() -> str:
        entered.set()
        time.sleep(0.2)
        return "from the thread"

    t = threading.Thread(target=c.get, args=("k", slow))
    t.start()
    entered.wait(5)
    # aget is called outside any running loop: the coroutine it returns runs later.
    assert asyncio.run(c.aget("k", get_value=lambda: "not this")) == "from the thread"
    t.join()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_fork_during_a_load_leaves_the_child_a_working_cache() -> None:
    c = Cache()
    entered = threading.Event()
    release = threading.Event()

    def slow() -> str:
        entered.set()
        release.wait(5)
        return "parent"

    t = threading.Thread(target=c.get, args=("k", slow))
    t.start()
    entered.wait(5)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: the loading thread does not exist here
        try:
            v = c.get("k", lambda: "child")
            os.write(w, str(v).encode())
        finally:
            os._exit(0)
    release.set()
    t.join()
    os.close(w)
    _, status = os.waitpid(pid, 0)
    got = os.read(r, 100).decode()
    os.close(r)
    assert status == 0
    assert got == "child", "the child started its own load instead of waiting forever"


def test_a_cycle_through_a_cached_value_is_collected() -> None:
    class Owner:
        def __init__(self) -> None:
            self.cache = Cache(max_entries=4)
            self.cache.set("me", self)  # the cache refers back to its owner

    o = Owner()
    ref = weakref.ref(o)
    del o
    gc.collect()
    assert ref() is None, "the owner and its cache were not collected"

    c = Cache(max_entries=2)
    c.set("bound", c.stats)  # a bound method of the cache itself
    cref = weakref.ref(c)
    del c
    gc.collect()
    assert cref() is None


def test_a_manual_clock_cannot_wrap_around() -> None:
    clock = ManualClock()
    c = Cache(clock=clock)
    c.set("k", "v", ttl=1000)
    clock.advance(float("inf"))
    clock.advance(float("inf"))
    assert c.get("k") is None, "an expired entry came back"
    assert clock.now == 2**64 - 2


def test_a_write_into_a_full_cache_removes_expired_entries_before_live_ones() -> None:
    clk = ManualClock()
    c = Cache(2, clock=clk)
    c.set("a", 1, 1000)
    c.set("b", 2, 10_000)
    clk.advance(2000)
    c.set("c", 3)
    assert sorted(c.keys()) == ["b", "c"], "b had 8 s to live"
    assert c.stats().evictions == 0


@pytest.mark.parametrize("n", [100, 128, 1000, 10_000])
def test_the_whole_entries_bound_is_usable(n: int) -> None:
    c = Cache(n)
    for i in range(n):
        c.set(f"key-{i}", i)
    assert len(c) == n
    assert c.stats().evictions == 0
    c.set("one-more", 0)
    assert len(c) == n


def test_two_caches_on_one_store_share_entries_and_loads() -> None:
    name = f"memory://py-{os.getpid()}-share"
    a, b = Cache(store=name), Cache(store=name)
    assert a.set("k", {"token": "t", "n": [1, 2.5, None, b"x"]})
    assert b.get("k") == {"token": "t", "n": [1, 2.5, None, b"x"]}
    calls = []

    def load() -> str:
        calls.append(1)
        time.sleep(0.1)
        return "once"

    threads = [threading.Thread(target=c.get, args=("j", load)) for c in (a, b, a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [1]
    assert a.get("j") == b.get("j") == "once"
    a.delete("j")
    assert b.get("j") is None
    assert a.stats().store_errors == b.stats().store_errors == 0


def test_a_value_a_store_cannot_hold_is_a_type_error_that_changes_nothing() -> None:
    c = Cache(store=f"memory://py-{os.getpid()}-types")
    c.set("k", "old")
    with pytest.raises(TypeError, match="set"):
        c.set("k", {1, 2})
    with pytest.raises(ValueError, match="64 bits"):
        c.set("k", 2**70)
    assert c.get("k") == "old"
    # A loader's result of that kind is returned, not kept, counted.
    v = c.get("s", lambda: {3})
    assert v == {3}
    assert c.get("s") is None
    assert c.stats().rejected == 1


def test_a_loader_failure_in_another_process_names_its_type() -> None:
    name = f"memory://py-{os.getpid()}-fail"
    a, b = Cache(store=name), Cache(store=name)
    entered = threading.Event()

    def failing() -> str:
        entered.set()
        time.sleep(0.2)
        raise KeyError("upstream said no")

    t = threading.Thread(target=lambda: pytest.raises(KeyError, a.get, "k", failing))
    t.start()
    entered.wait(5)
    with pytest.raises(LoaderError) as e:
        b.get("k", lambda: "not run")
    t.join()
    assert e.value.type_name == "KeyError"
    assert "upstream said no" in str(e.value)


@pytest.mark.skipif(sys.platform == "win32", reason="loopback only")
def test_an_unreachable_store_url_is_an_error_at_construction() -> None:
    with pytest.raises(ValueError, match="scheme"):
        Cache(store="ftp://example")
    with pytest.raises(ValueError, match="absolute"):
        Cache(store="sqlite://relative.db")
    with pytest.raises(TypeError, match="store"):
        Cache(store=42)  # type: ignore[arg-type]


def test_expired_entries_are_reclaimed_when_nobody_calls_the_cache() -> None:
    class Big:
        pass

    clock = ManualClock()
    c = Cache(clock=clock)
    refs = []
    for i in range(50):
        o = Big()
        refs.append(weakref.ref(o))
        c.set(f"k{i}", o, ttl=10)
        del o
    clock.advance(5000)
    # No call on the cache: the sweeper thread (one per process) reclaims them.
    deadline = time.monotonic() + 10
    while any(r() is not None for r in refs) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert all(r() is None for r in refs)


def test_values_whose_destructors_call_the_cache_from_many_threads() -> None:
    # The in-process map has no lock of its own in Python: the GIL runs one call at a time,
    # and the core lets another call run only while it does not use the map. A value whose
    # destructor calls the cache, dropped by replacements, evictions, deletes, sweeps and
    # clears on eight threads at once, checks that no call ever finds the map in use.
    clock = ManualClock()
    cache = Cache(max_entries=16, clock=clock)
    failures: list[BaseException] = []

    class CallsBack:
        def __del__(self) -> None:
            try:
                cache.get("probe")
                cache.set("probe", 1)
                cache.delete("probe")
            except BaseException as e:  # noqa: BLE001 (any failure, reported below)
                failures.append(e)

    def work(t: int) -> None:
        for i in range(1_500):
            k = f"k{(t * 7 + i) % 40}"
            op = i % 6
            if op < 3:
                cache.set(k, CallsBack(), ttl=5 + i % 7)
            elif op == 3:
                cache.get(k)
            elif op == 4:
                cache.delete(k)
            else:
                clock.advance(3)
                cache.purge_expired()
            if i % 500 == 499:
                cache.clear()
            if i % 97 == 0:
                gc.collect()

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    assert not any(th.is_alive() for th in threads), "a thread hung"
    cache.clear()
    gc.collect()
    assert failures == []
    s = cache.stats()
    assert s.entries == 0 and s.bytes == 0, s
