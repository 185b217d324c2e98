"""Resilience in Python: where background work runs, what happens when it is cancelled or
fails, and that none of it hangs, leaks or keeps the process alive. The rules themselves are
scenarios (tests/scenarios/resilience_*.json)."""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
import textwrap
import threading
import time
import weakref
from typing import Any

import pytest

from flightcache import Cache, CacheEntry, ManualClock, _background

pytestmark = pytest.mark.timeout(60)


def wait_until(cond: Any, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.005)


def background_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "flightcache-background-load"]


def stale_cache(**policy: Any) -> tuple[Cache, ManualClock]:
    clock = ManualClock()
    cache = Cache(clock=clock, ttl=1000, **policy)
    assert cache.get("k", lambda: "v1") == "v1"
    clock.advance(1000)
    return cache, clock


def test_get_entry_is_a_typed_cache_entry() -> None:
    cache, _ = stale_cache(stale_ttl=5000)
    e = cache.get_entry("k", lambda: "v2")
    assert isinstance(e, CacheEntry)
    assert (e.value, e.status, e.source, e.age_ms, e.remaining_ttl) == (
        "v1", "refreshing", "memory", 1000.0, 0.0)
    assert "refreshing" in repr(e)
    miss = cache.get_entry("absent", default="d")
    assert (miss.value, miss.status, miss.age_ms, miss.remaining_ttl) == ("d", "miss", None, None)


def test_a_refresh_runs_on_a_daemon_thread_and_ends() -> None:
    cache, _ = stale_cache(stale_ttl=5000)
    release = threading.Event()
    ran_on: list[threading.Thread] = []

    def slow() -> str:
        ran_on.append(threading.current_thread())
        release.wait(10)
        return "v2"

    assert cache.get("k", slow) == "v1"
    wait_until(lambda: ran_on)
    assert ran_on[0] is not threading.main_thread() and ran_on[0].daemon
    # One refresh per key: more stale callers start none.
    assert cache.get("k", slow) == "v1"
    release.set()
    wait_until(lambda: cache.get("k") == "v2")
    wait_until(lambda: not background_threads())
    assert len(ran_on) == 1
    assert cache.stats().refreshes == 1


def test_a_failing_refresh_is_counted_never_raised() -> None:
    cache, _ = stale_cache(stale_ttl=5000)
    hooked: list[Any] = []
    old_hook = threading.excepthook
    threading.excepthook = hooked.append
    try:
        def boom() -> str:
            raise RuntimeError("the API is down")

        assert cache.get("k", boom) == "v1"
        wait_until(lambda: cache.stats().refresh_errors == 1)
        wait_until(lambda: not background_threads())
    finally:
        threading.excepthook = old_hook
    assert hooked == []
    assert cache.stats().load_errors == 1
    # The stale value is still there for the next caller with a loader.
    assert cache.get("k", lambda: "v2") == "v1"


def test_async_refresh_runs_on_the_callers_loop_and_fails_quietly() -> None:
    cache, _ = stale_cache(stale_ttl=5000)
    errors: list[Any] = []

    async def main() -> None:
        asyncio.get_running_loop().set_exception_handler(lambda _l, ctx: errors.append(ctx))
        loop_thread = threading.current_thread()
        seen: list[threading.Thread] = []

        async def failing() -> str:
            seen.append(threading.current_thread())
            raise RuntimeError("down")

        assert await cache.aget("k", failing) == "v1"
        for _ in range(200):
            if cache.stats().refresh_errors == 1:
                break
            await asyncio.sleep(0.005)
        assert seen == [loop_thread]
        assert cache.stats().refresh_errors == 1
        entry = await cache.aget_entry("k", lambda: "v2")
        assert (entry.value, entry.status) == ("v1", "refreshing")
        for _ in range(200):
            if cache.get("k") == "v2":
                break
            await asyncio.sleep(0.005)
        assert cache.get("k") == "v2"
        assert not _background._tasks

    asyncio.run(main())
    gc.collect()
    assert errors == []


def test_a_cancelled_waiter_leaves_the_load_to_finish() -> None:
    cache, _ = stale_cache(stale_if_error=60_000)

    async def main() -> None:
        gate = asyncio.Event()

        async def slow() -> str:
            await gate.wait()
            return "v2"

        # hard_timeout: this caller's load runs in the background; the caller waits for it.
        task = asyncio.ensure_future(cache.aget("k", slow, hard_timeout=30_000))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        gate.set()
        for _ in range(200):
            if cache.get("k") == "v2":
                break
            await asyncio.sleep(0.005)
        assert cache.get("k") == "v2"

    asyncio.run(main())


def test_soft_timeout_in_a_thread_serves_stale_and_the_load_fills_later() -> None:
    cache, _ = stale_cache(stale_if_error=60_000)
    release = threading.Event()

    def slow() -> str:
        release.wait(10)
        return "v2"

    started = time.monotonic()
    e = cache.get_entry("k", slow, soft_timeout=50)
    assert (e.value, e.status) == ("v1", "stale")
    assert time.monotonic() - started < 5
    release.set()
    wait_until(lambda: cache.get("k") == "v2")


def test_loaders_and_values_are_released_after_background_work() -> None:
    cache, _ = stale_cache(stale_ttl=5000)

    class Loader:
        def __call__(self) -> str:
            return "v2"

    loader = Loader()
    ref = weakref.ref(loader)
    assert cache.get("k", loader) == "v1"
    del loader
    wait_until(lambda: cache.get("k") == "v2")
    wait_until(lambda: not background_threads())
    gc.collect()
    assert ref() is None


@pytest.mark.parametrize("api", ["thread", "asyncio"])
def test_exit_with_a_refresh_in_flight_does_not_hang(api: str) -> None:
    script = textwrap.dedent(
        f"""
        import asyncio, time
        from flightcache import Cache, ManualClock
        clock = ManualClock()
        cache = Cache(clock=clock, ttl=1000, stale_ttl=60_000)
        cache.set("k", "v1")
        clock.advance(1000)
        if {api!r} == "thread":
            print(cache.get("k", lambda: time.sleep(60) or "v2"))
        else:
            async def slow():
                await asyncio.sleep(60)
                return "v2"
            async def main():
                print(await cache.aget("k", slow))
            asyncio.run(main())
        """
    )
    started = time.monotonic()
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "v1"
    assert "Traceback" not in out.stderr and "never retrieved" not in out.stderr, out.stderr
    assert time.monotonic() - started < 20


def test_per_call_options_override_and_are_checked() -> None:
    cache, _ = stale_cache(stale_ttl=5000)
    assert cache.get("k", lambda: "v2", stale_ttl=0) == "v2"
    with pytest.raises(ValueError, match="refresh_ahead"):
        cache.get("k", lambda: "v3", refresh_ahead=2)
    with pytest.raises(TypeError, match="stale_tll"):
        cache.get("k", lambda: "v3", stale_tll=5)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="stale_ttl"):
        Cache(stale_ttl="long")  # type: ignore[arg-type]
    assert cache.get("k") == "v2"


def test_memoize_passes_the_policies() -> None:
    clock = ManualClock()
    cache = Cache(clock=clock)
    calls: list[int] = []

    @cache.memoize(ttl=1000, stale_ttl=5000)
    def f(x: int) -> int:
        calls.append(x)
        return len(calls)

    assert f(1) == 1
    clock.advance(1000)
    assert f(1) == 1  # stale, refreshed in the background
    wait_until(lambda: len(calls) == 2)
    wait_until(lambda: f(1) == 2)
