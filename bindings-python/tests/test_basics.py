"""Keys, get/set/delete and the mapping idioms (SPEC: The API, Keys)."""

from __future__ import annotations

import pytest

import flightcache
from flightcache import Cache, FlightcacheError, WrongTypeError


def test_set_get_delete(cache: Cache) -> None:
    assert cache.get("token") is None
    assert cache.set("token", "abc", ttl=60_000) is True
    assert cache.get("token") == "abc"
    assert cache.delete("token") is True
    assert cache.delete("token") is False
    assert cache.get("token") is None


def test_a_hit_returns_the_stored_object(cache: Cache) -> None:
    value = {"a": [1, 2]}
    cache.set("k", value)
    assert cache.get("k") is value
    assert cache["k"] is value


def test_default_when_absent(cache: Cache) -> None:
    sentinel = object()
    assert cache.get("nope", default=sentinel) is sentinel
    cache.set("k", 0)
    assert cache.get("k", default=sentinel) == 0


def test_none_is_a_value(cache: Cache) -> None:
    cache.set("k", None)
    assert "k" in cache
    assert cache["k"] is None
    assert cache.get("k", default=1) is None


def test_mapping_idioms(cache: Cache) -> None:
    cache["a"] = 1
    assert cache["a"] == 1
    assert "a" in cache
    assert "b" not in cache
    assert len(cache) == 1
    assert list(cache) == ["a"]
    with pytest.raises(KeyError) as e:
        cache["b"]
    assert e.value.args == ("b",)
    del cache["a"]
    assert "a" not in cache
    with pytest.raises(KeyError):
        del cache["a"]


def test_the_empty_string_is_a_key(cache: Cache) -> None:
    cache.set("", "empty")
    assert cache.get("") == "empty"
    assert "" in cache


@pytest.mark.parametrize("bad", [1, 1.5, b"k", None, ("t",), object()])
def test_a_non_str_key_is_a_type_error_naming_the_type(cache: Cache, bad: object) -> None:
    cache.set("keep", 1)
    calls = [
        lambda: cache.get(bad),  # type: ignore[arg-type]
        lambda: cache.set(bad, 1),  # type: ignore[arg-type]
        lambda: cache.delete(bad),  # type: ignore[arg-type]
        lambda: cache.exists(bad),  # type: ignore[arg-type]
        lambda: cache.incr(bad),  # type: ignore[arg-type]
        lambda: cache.expire(bad, 1),  # type: ignore[arg-type]
        lambda: cache.remaining_ttl(bad),  # type: ignore[arg-type]
        lambda: cache[bad],  # type: ignore[index]
        lambda: bad in cache,
        lambda: cache.get(bad, get_value=lambda: 1),  # type: ignore[arg-type]
        lambda: cache.aget(bad),  # type: ignore[arg-type]
    ]
    for call in calls:
        with pytest.raises(TypeError) as e:
            call()
        assert isinstance(e.value, WrongTypeError)
        assert isinstance(e.value, FlightcacheError)
        assert type(bad).__name__ in str(e.value)
    assert cache.keys() == ["keep"]
    assert cache.stats().entries == 1


def test_unicode_keys(cache: Cache) -> None:
    cache.set("ключ", "значение")
    cache.set("🔑", 1)
    assert cache.get("ключ") == "значение"
    assert sorted(cache.keys()) == sorted(["ключ", "🔑"])


def test_set_replaces(cache: Cache) -> None:
    cache.set("k", 1)
    cache.set("k", 2)
    assert cache.get("k") == 2
    assert len(cache) == 1


def test_repr_and_exports() -> None:
    c = Cache()
    assert "flightcache.Cache" in repr(c)
    for name in flightcache.__all__:
        assert hasattr(flightcache, name)


def test_constructor_validates(clock: flightcache.ManualClock) -> None:
    with pytest.raises(ValueError):
        Cache(max_entries=0)
    with pytest.raises(ValueError):
        Cache(max_entries=-5)
    with pytest.raises(TypeError):
        Cache(max_entries="10")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Cache(ttl=-1)
    with pytest.raises(TypeError):
        Cache(ttl="1s")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Cache(max_bytes=0)
    with pytest.raises(TypeError):
        Cache(clock=object())  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Cache(size_of=3)  # type: ignore[arg-type]


def test_cache_is_weakrefable_and_freed() -> None:
    import gc
    import weakref

    c = Cache()
    r = weakref.ref(c)
    del c
    gc.collect()
    assert r() is None
