"""@cache.memoize for plain and async functions (SPEC: Function results)."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from flightcache import Cache, ManualClock


def test_same_inputs_share_one_entry(cache: Cache) -> None:
    calls: list[tuple[Any, ...]] = []

    @cache.memoize(ttl=1000)
    def add(a: int, b: int = 0) -> int:
        calls.append((a, b))
        return a + b

    assert add(1, 2) == 3
    assert add(1, 2) == 3
    assert add(2, 1) == 3
    assert len(calls) == 2
    assert add.__name__ == "add"  # functools.wraps
    key = add.cache_key(1, 2)  # type: ignore[attr-defined]
    assert key == f"{__name__}.test_same_inputs_share_one_entry.<locals>.add:[1,2]"
    assert cache.get(key) == 3


def test_dict_key_order_does_not_matter(cache: Cache) -> None:
    calls = []

    @cache.memoize()
    def f(q: dict[str, Any]) -> int:
        calls.append(q)
        return 1

    f({"a": 1, "b": {"y": 2, "x": [1, 2.0, None, True]}})
    f({"b": {"x": [1, 2, None, True], "y": 2}, "a": 1})
    assert len(calls) == 1


def test_the_ttl_applies(cache: Cache, clock: ManualClock) -> None:
    calls = []

    @cache.memoize(ttl=100)
    def f() -> int:
        calls.append(1)
        return len(calls)

    assert f() == 1
    clock.advance(99)
    assert f() == 1
    clock.advance(1)
    assert f() == 2


def test_concurrent_calls_share_one_flight() -> None:
    cache = Cache()
    calls = 0

    @cache.memoize()
    def slow(x: int) -> object:
        nonlocal calls
        calls += 1
        time.sleep(0.05)
        return object()

    out: list[object] = []
    ts = [threading.Thread(target=lambda: out.append(slow(1))) for _ in range(16)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert calls == 1 and all(o is out[0] for o in out)


def test_async_functions() -> None:
    cache = Cache()
    calls = 0

    @cache.memoize(ttl=1000)
    async def fetch(page: str) -> object:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.02)
        return object()

    async def main() -> list[object]:
        return await asyncio.gather(*(fetch("a") for _ in range(50)))

    r = asyncio.run(main())
    assert calls == 1 and all(x is r[0] for x in r)
    assert asyncio.iscoroutinefunction(fetch)


def test_key_function(cache: Cache) -> None:
    calls = []

    @cache.memoize(key=lambda user, request_id: user["id"])
    def profile(user: dict[str, Any], request_id: int) -> str:
        calls.append(request_id)
        return user["name"]

    assert profile({"id": 7, "name": "a"}, 1) == "a"
    assert profile({"id": 7, "name": "b"}, 2) == "a"
    assert calls == [1]


def test_dotted_paths_into_the_first_argument(cache: Cache) -> None:
    calls = []

    @cache.memoize(key=["page.repository", "page.section.name"])
    def render(ctx: dict[str, Any]) -> int:
        calls.append(ctx)
        return len(calls)

    a = {"page": {"repository": "r", "section": {"name": "s"}, "noise": 1}}
    b = {"page": {"repository": "r", "section": {"name": "s"}, "noise": 2}}
    assert render(a) == 1
    assert render(b) == 1
    with pytest.raises(ValueError, match="page.section.name"):
        render({"page": {"repository": "r"}})
    with pytest.raises(ValueError):
        render()
    with pytest.raises(TypeError):
        cache.memoize(key="page.repository")  # type: ignore[arg-type]


def test_anonymous_functions_never_share_entries(cache: Cache) -> None:
    f = cache.memoize()(lambda x: ("f", x))
    g = cache.memoize()(lambda x: ("g", x))
    assert f(1) == ("f", 1)
    assert g(1) == ("g", 1)
    assert f.cache_key(1) != g.cache_key(1)


def test_arguments_that_cannot_make_a_key(cache: Cache) -> None:
    @cache.memoize()
    def f(x: object) -> int:
        return 1

    with pytest.raises(TypeError, match="object"):
        f(object())
    with pytest.raises(TypeError):
        f({1: "non-str dict key"})


def test_a_bad_ttl_fails_at_decoration(cache: Cache) -> None:
    with pytest.raises(ValueError):
        cache.memoize(ttl=-1)
    with pytest.raises(TypeError):
        cache.memoize(ttl="1")  # type: ignore[arg-type]


def test_exceptions_are_not_cached(cache: Cache) -> None:
    calls = []

    @cache.memoize()
    def f() -> int:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("first")
        return 2

    with pytest.raises(RuntimeError):
        f()
    assert f() == 2
