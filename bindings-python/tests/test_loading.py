"""Single-flight loading from threads and asyncio (SPEC: Loading)."""

from __future__ import annotations

import asyncio
import threading
import time
import types
from typing import Any

import pytest

from flightcache import (
    Cache,
    LoadTimeoutError,
    ManualClock,
    ReentrantLoadError,
    WrongTypeError,
)

pytestmark = pytest.mark.timeout(60)


class Loader:
    """Counts its runs; returns a fresh object each run."""

    def __init__(self, delay: float = 0.0, fail: BaseException | None = None) -> None:
        self.delay = delay
        self.fail = fail
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self) -> object:
        with self.lock:
            self.calls += 1
        if self.delay:
            time.sleep(self.delay)
        if self.fail is not None:
            raise self.fail
        return object()


def run_threads(n: int, target: Any) -> list[Any]:
    results: list[Any] = [None] * n
    barrier = threading.Barrier(n)

    def work(i: int) -> None:
        barrier.wait()
        try:
            results[i] = ("ok", target())
        except BaseException as e:  # noqa: BLE001
            results[i] = ("err", e)

    ts = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return results


def test_32_threads_one_load_the_same_object() -> None:
    c = Cache()
    load = Loader(delay=0.05)
    results = run_threads(32, lambda: c.get("k", get_value=load, ttl=60_000))
    assert load.calls == 1
    assert all(r[0] == "ok" for r in results)
    first = results[0][1]
    assert all(r[1] is first for r in results)
    assert c.get("k") is first
    s = c.stats()
    assert s.loads == 1 and s.misses + s.hits == 33


def test_waiting_threads_do_not_hold_the_gil() -> None:
    c = Cache()
    started = threading.Event()
    ticks = 0

    def slow() -> object:
        started.set()
        time.sleep(0.3)
        return "v"

    def waiter() -> None:
        started.wait()
        c.get("k", get_value=slow)

    leader = threading.Thread(target=lambda: c.get("k", get_value=slow))
    leader.start()
    waiters = [threading.Thread(target=waiter) for _ in range(8)]
    for t in waiters:
        t.start()
    started.wait()
    time.sleep(0.02)
    # While 8 threads wait for the load, this thread keeps running Python code.
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < 0.15:
        ticks += 1
    leader.join()
    for t in waiters:
        t.join()
    # A thread that held the GIL while waiting would starve this loop for 5 ms at a time.
    assert ticks > 10_000


def test_a_raising_loader_one_load_the_same_exception_nothing_stored() -> None:
    c = Cache()
    boom = ValueError("upstream down")
    load = Loader(delay=0.05, fail=boom)
    results = run_threads(32, lambda: c.get("k", get_value=load))
    assert load.calls == 1
    assert all(r[0] == "err" and r[1] is boom for r in results)
    assert boom.__traceback__ is not None
    assert "k" not in c
    assert c.stats().load_errors == 1
    # The next call loads again.
    ok = Loader()
    assert c.get("k", get_value=ok) is not None and ok.calls == 1


def test_1000_asyncio_tasks_one_load() -> None:
    c = Cache()
    calls = 0

    async def load() -> object:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return object()

    async def main() -> list[object]:
        return await asyncio.gather(*(c.aget("k", get_value=load, ttl=60_000) for _ in range(1000)))

    results = asyncio.run(main())
    assert calls == 1
    assert all(r is results[0] for r in results)
    assert c.get("k") is results[0]


def test_asyncio_raising_loader_shares_the_exception() -> None:
    c = Cache()
    boom = KeyError("nope")
    calls = 0

    async def load() -> object:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.02)
        raise boom

    async def main() -> list[Any]:
        return await asyncio.gather(
            *(c.aget("k", get_value=load) for _ in range(100)), return_exceptions=True
        )

    results = asyncio.run(main())
    assert calls == 1
    assert all(r is boom for r in results)
    assert "k" not in c
    assert c.stats().load_errors == 1


@pytest.mark.parametrize("kind", ["async_callable", "sync_callable", "coroutine", "task", "future"])
def test_aget_takes_every_kind_of_get_value(kind: str) -> None:
    c = Cache()
    value = object()

    async def make() -> object:
        await asyncio.sleep(0)
        return value

    async def main() -> object:
        if kind == "async_callable":
            gv: Any = make
        elif kind == "sync_callable":
            gv = lambda: value  # noqa: E731
        elif kind == "coroutine":
            gv = make()
        elif kind == "task":
            gv = asyncio.ensure_future(make())
        else:
            gv = asyncio.get_running_loop().create_future()
            asyncio.get_running_loop().call_later(0.01, gv.set_result, value)
        return await c.aget("k", get_value=gv, ttl=1000)

    assert asyncio.run(main()) is value
    assert c.get("k") is value


def test_aget_without_a_loader_and_the_async_writes(cache: Cache) -> None:
    async def main() -> None:
        assert await cache.aget("k") is None
        assert await cache.aget("k", default=3) == 3
        assert await cache.aset("k", "v", ttl=100) is True
        assert await cache.aget("k") == "v"
        assert await cache.adelete("k") is True
        assert await cache.adelete("k") is False

    asyncio.run(main())


def test_an_already_made_coroutine_is_closed_on_a_hit(cache: Cache) -> None:
    cache.set("k", 1)

    async def make() -> int:
        return 2

    async def main() -> object:
        coro = make()
        r = await cache.aget("k", get_value=coro)
        assert coro.cr_frame is None  # closed, so no "never awaited" warning
        return r

    assert asyncio.run(main()) == 1


def test_sync_and_async_callers_share_one_flight() -> None:
    c = Cache()
    calls = 0
    release = threading.Event()

    def slow_sync() -> object:
        nonlocal calls
        calls += 1
        release.wait(5)
        return object()

    results: list[object] = []
    t = threading.Thread(target=lambda: results.append(c.get("k", get_value=slow_sync)))
    t.start()
    while c.stats().loads == 0:
        time.sleep(0.001)

    async def main() -> list[object]:
        async def never() -> object:
            raise AssertionError("the second loader must not run")

        tasks = [asyncio.ensure_future(c.aget("k", get_value=never)) for _ in range(50)]
        await asyncio.sleep(0.05)
        release.set()
        return await asyncio.gather(*tasks)

    got = asyncio.run(main())
    t.join()
    assert calls == 1
    assert all(g is results[0] for g in got)


def test_an_async_leader_and_waiting_threads_share_one_flight() -> None:
    c = Cache()
    in_load = threading.Event()

    async def load() -> object:
        in_load.set()
        await asyncio.sleep(0.1)
        return object()

    thread_results: list[object] = []

    def thread_get() -> None:
        in_load.wait(5)
        thread_results.append(c.get("k", get_value=lambda: "must not run"))

    ts = [threading.Thread(target=thread_get) for _ in range(8)]
    for t in ts:
        t.start()
    value = asyncio.run(c.aget("k", get_value=load))  # type: ignore[arg-type]
    for t in ts:
        t.join()
    assert c.stats().loads == 1
    assert len(thread_results) == 8 and all(r is value for r in thread_results)


def test_callers_on_several_event_loops_in_threads_share_one_flight() -> None:
    c = Cache()
    calls = 0
    lock = threading.Lock()

    async def load() -> object:
        nonlocal calls
        with lock:
            calls += 1
        await asyncio.sleep(0.1)
        return object()

    results: list[object] = []
    barrier = threading.Barrier(4)

    def run_loop() -> None:
        async def main() -> list[object]:
            barrier.wait()
            return await asyncio.gather(*(c.aget("k", get_value=load) for _ in range(10)))

        results.extend(asyncio.run(main()))

    ts = [threading.Thread(target=run_loop) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert calls == 1
    assert len(results) == 40 and all(r is results[0] for r in results)


def test_none_is_a_loaded_value_and_is_stored(cache: Cache) -> None:
    load = Loader()
    load_none = lambda: (load(), None)[1]  # noqa: E731
    assert cache.get("k", get_value=load_none) is None
    assert "k" in cache
    assert cache.get("k", get_value=load_none) is None
    assert load.calls == 1


def test_a_set_during_a_load_wins() -> None:
    c = Cache()
    in_load = threading.Event()
    release = threading.Event()

    def slow() -> str:
        in_load.set()
        release.wait(5)
        return "loaded"

    out: list[object] = []
    t = threading.Thread(target=lambda: out.append(c.get("k", get_value=slow)))
    t.start()
    in_load.wait(5)
    c.set("k", "newer")
    release.set()
    t.join()
    assert out == ["loaded"]  # the loader's caller still gets its result
    assert c.get("k") == "newer"  # but it does not overwrite the newer write


def test_a_delete_during_a_load_makes_later_callers_load_again() -> None:
    c = Cache()
    in_load = threading.Event()
    release = threading.Event()
    calls = []

    def slow() -> str:
        calls.append(1)
        in_load.set()
        release.wait(5)
        return "old"

    t = threading.Thread(target=lambda: c.get("k", get_value=slow))
    t.start()
    in_load.wait(5)
    c.delete("k")
    assert c.get("k", get_value=lambda: "fresh") == "fresh"
    release.set()
    t.join()
    assert c.get("k") == "fresh"
    assert c.stats().loads == 2


def test_a_loader_asking_for_its_own_key_is_reentrant(cache: Cache) -> None:
    def loader() -> object:
        return cache.get("k", get_value=loader)

    with pytest.raises(ReentrantLoadError) as e:
        cache.get("k", get_value=loader)
    assert isinstance(e.value, RuntimeError)
    assert "k" not in cache


def test_an_async_loader_asking_for_its_own_key_is_reentrant(cache: Cache) -> None:
    async def loader() -> object:
        await asyncio.sleep(0)
        return await cache.aget("k", get_value=loader)

    async def sync_inside() -> object:
        await asyncio.sleep(0)
        return cache.get("j", get_value=lambda: 1)

    with pytest.raises(ReentrantLoadError):
        asyncio.run(cache.aget("k", get_value=loader))  # type: ignore[arg-type]
    # A blocking get of its own key from inside an async loader would block the loop forever.
    with pytest.raises(ReentrantLoadError):
        asyncio.run(cache.aget("j", get_value=sync_inside))  # type: ignore[arg-type]
    assert "k" not in cache and "j" not in cache


def test_a_load_timeout_stops_waiting_threads() -> None:
    c = Cache(load_timeout=50)
    release = threading.Event()

    def slow() -> str:
        release.wait(5)
        return "late"

    t = threading.Thread(target=lambda: c.get("k", get_value=slow))
    t.start()
    while c.stats().loads == 0:
        time.sleep(0.001)
    t0 = time.perf_counter()
    with pytest.raises(TimeoutError) as e:
        c.get("k", get_value=slow)
    assert isinstance(e.value, LoadTimeoutError)
    assert time.perf_counter() - t0 < 2
    release.set()
    t.join()
    assert c.get("k") == "late"


def test_a_load_timeout_stops_waiting_tasks() -> None:
    c = Cache(load_timeout=50)

    async def slow() -> str:
        await asyncio.sleep(0.3)
        return "late"

    async def main() -> None:
        leader = asyncio.ensure_future(c.aget("k", get_value=slow))
        await asyncio.sleep(0.01)
        with pytest.raises(TimeoutError) as e:
            await c.aget("k", get_value=slow)
        assert isinstance(e.value, LoadTimeoutError)
        assert await leader == "late"

    asyncio.run(main())


def test_a_cancelled_waiter_does_not_cancel_the_load() -> None:
    c = Cache()

    async def slow() -> str:
        await asyncio.sleep(0.05)
        return "v"

    async def main() -> None:
        leader = asyncio.ensure_future(c.aget("k", get_value=slow))
        await asyncio.sleep(0)
        waiters = [asyncio.ensure_future(c.aget("k", get_value=slow)) for _ in range(3)]
        await asyncio.sleep(0.01)
        waiters[0].cancel()
        assert await leader == "v"
        assert await waiters[1] == "v" and await waiters[2] == "v"
        with pytest.raises(asyncio.CancelledError):
            await waiters[0]

    asyncio.run(main())
    assert c.stats().loads == 1


def test_a_cancelled_leader_is_taken_over_by_a_waiter() -> None:
    """Cancelling the task that leads a load fails nobody else: a waiter loads instead."""
    c = Cache()
    calls: list[str] = []

    async def slow() -> str:
        calls.append("leader")
        await asyncio.sleep(10)
        return "never"

    async def other() -> str:
        calls.append("waiter")
        return "taken over"

    async def main() -> None:
        leader = asyncio.ensure_future(c.aget("k", get_value=slow))
        await asyncio.sleep(0.01)
        waiter = asyncio.ensure_future(c.aget("k", get_value=other))
        await asyncio.sleep(0.01)
        leader.cancel()
        with pytest.raises(asyncio.CancelledError):
            await leader
        assert await asyncio.wait_for(waiter, 5) == "taken over"
        assert await c.aget("k") == "taken over"

    asyncio.run(main())
    assert calls == ["leader", "waiter"]


def test_a_cancelled_waiter_does_not_disturb_the_load() -> None:
    c = Cache()
    started = asyncio.Event

    async def main() -> None:
        gate = asyncio.Event()

        async def load() -> str:
            await gate.wait()
            return "v"

        leader = asyncio.ensure_future(c.aget("k", get_value=load))
        await asyncio.sleep(0.01)
        waiter = asyncio.ensure_future(c.aget("k", get_value=load))
        await asyncio.sleep(0.01)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        gate.set()
        assert await asyncio.wait_for(leader, 5) == "v"

    del started
    asyncio.run(main())
    assert c.stats().loads == 1


def test_a_sync_get_with_an_async_loader_is_an_error(cache: Cache) -> None:
    async def load() -> int:
        return 1

    with pytest.raises(TypeError, match="aget"):
        cache.get("k", get_value=load)
    assert "k" not in cache


def test_get_value_must_be_callable(cache: Cache) -> None:
    with pytest.raises(TypeError):
        cache.get("k", get_value=5)  # type: ignore[call-overload]
    with pytest.raises(TypeError):
        cache.aget("k", get_value=5)  # type: ignore[call-overload]
    assert cache.stats().loads == 0


def test_loads_respect_ttl_on_a_manual_clock(cache: Cache, clock: ManualClock) -> None:
    load = Loader()
    a = cache.get("k", get_value=load, ttl=100)
    clock.advance(99)
    assert cache.get("k", get_value=load, ttl=100) is a
    clock.advance(1)
    b = cache.get("k", get_value=load, ttl=100)
    assert b is not a and load.calls == 2


def test_coroutines_of_callers_that_join_a_load_are_closed() -> None:
    c = Cache()

    async def make(v: str) -> str:
        await asyncio.sleep(0.02)
        return v

    async def main() -> list[object]:
        coros = [make(f"v{i}") for i in range(5)]
        results = await asyncio.gather(*(c.aget("k", get_value=co) for co in coros))
        assert all(co.cr_frame is None for co in coros)  # run once, or closed
        return results

    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        results = asyncio.run(main())
    assert results == ["v0"] * 5
    assert c.stats().loads == 1


def test_a_blocking_get_on_the_loop_running_the_load_is_an_error_not_a_hang() -> None:
    c = Cache()

    async def load() -> str:
        await asyncio.sleep(0.05)
        return "v"

    async def main() -> None:
        leader = asyncio.ensure_future(c.aget("k", get_value=load))
        await asyncio.sleep(0.01)
        # Another task on the same loop, using the blocking API by mistake.
        with pytest.raises(ReentrantLoadError):
            c.get("k", get_value=lambda: "other")
        assert await leader == "v"

    asyncio.run(main())
    assert c.stats().loads == 1


@pytest.mark.parametrize("kind", ["coroutine_function", "class_with_await", "future"])
def test_sync_get_refuses_a_loader_that_returns_an_awaitable(kind: str) -> None:
    # `await` looks `__await__` up on the type; so does the check (a type slot, not an
    # attribute lookup). A plain value with an `__await__` attribute of its own is a value.
    c = Cache()

    async def coro() -> int:
        return 1

    class Awaitable:
        def __await__(self) -> Any:
            yield
            return 1

    loop = asyncio.new_event_loop()
    try:
        gv: Any = {
            "coroutine_function": coro,
            "class_with_await": Awaitable,
            "future": loop.create_future,
        }[kind]
        with pytest.raises(WrongTypeError, match="aget"):
            c.get("k", gv)
        assert "k" not in c
        plain = types.SimpleNamespace(__await__=lambda: iter(()))
        assert c.get("k", lambda: plain) is plain
    finally:
        loop.close()
