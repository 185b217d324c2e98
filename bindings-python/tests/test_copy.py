"""Copy semantics (``Cache(copy=True)``): the cache keeps its own copy of each value, made
through the wire format a store uses, and hands every reader a copy of its own."""

from __future__ import annotations

import asyncio
import os
import tempfile

import pytest

from flightcache import Cache, FlightcacheError


def test_a_value_changed_after_set_or_get_does_not_change_the_cache() -> None:
    cache = Cache(copy=True)
    value = {"list": [1, 2], "n": None, "b": b"\x00\x01"}
    assert cache.set("k", value)
    value["list"].append(3)
    got = cache.get("k")
    assert got == {"list": [1, 2], "n": None, "b": b"\x00\x01"}
    got["list"].append(9)
    assert cache["k"] == {"list": [1, 2], "n": None, "b": b"\x00\x01"}
    assert cache.get("k") is not cache.get("k")
    entry = cache.get_entry("k")
    entry.value["n"] = "changed"
    assert cache.get("k")["n"] is None


def test_by_reference_without_the_option() -> None:
    cache = Cache()
    value = [1]
    cache.set("k", value)
    assert cache.get("k") is value
    assert Cache(copy=False).set("k", value)


def test_a_value_the_wire_format_cannot_hold_is_a_type_error_and_changes_nothing() -> None:
    cache = Cache(copy=True)
    cache.set("k", [1])
    for bad in ({1, 2}, object(), [1, {2}], {"a": 1.5j}):
        with pytest.raises(TypeError, match="copy option") as e:
            cache.set("k", bad)
        assert isinstance(e.value, FlightcacheError)
        with pytest.raises(TypeError):
            cache.add("new", bad)
    assert cache.get("k") == [1]
    assert "new" not in cache
    assert cache.stats().rejected == 0


def test_loaded_values_are_kept_as_copies() -> None:
    cache = Cache(copy=True)
    made = {"token": "t1"}
    got = cache.get("k", get_value=lambda: made)
    assert got == made and got is not made
    made["token"] = "changed by the loader"
    assert cache.get("k") == {"token": "t1"}


def test_a_loaded_value_outside_the_wire_format_is_returned_not_kept() -> None:
    cache = Cache(copy=True)
    made = {1, 2}
    assert cache.get("k", get_value=lambda: made) is made
    assert "k" not in cache
    assert cache.stats().rejected == 1


def test_incr_add_and_namespaces_with_copies() -> None:
    cache = Cache(copy=True)
    assert cache.incr("n") == 1 and cache.incr("n", 2) == 3
    assert cache.add("a", [1]) and not cache.add("a", [2])
    ns = cache.namespace("app")
    ns.set("x", {"v": [1]})
    ns.get("x")["v"].append(2)
    assert ns.get("x") == {"v": [1]}


def test_asyncio_readers_get_copies() -> None:
    cache = Cache(copy=True)

    async def main() -> None:
        await cache.aset("k", {"v": [1]})
        a = await cache.aget("k")
        a["v"].append(2)
        assert await cache.aget("k") == {"v": [1]}
        loaded = await cache.aget("l", get_value=lambda: {"v": 1})
        loaded["v"] = 2
        assert await cache.aget("l") == {"v": 1}

    asyncio.run(main())


def test_copy_must_be_a_bool() -> None:
    for bad in (1, "yes", []):
        with pytest.raises(TypeError, match="copy must be a bool"):
            Cache(copy=bad)  # type: ignore[arg-type]


def test_copies_with_a_store() -> None:
    path = os.path.join(tempfile.mkdtemp(prefix="flightcache-copy-"), "c.db")
    cache = Cache(copy=True, store=f"sqlite://{path}")
    value = {"v": [1]}
    cache.set("k", value)
    value["v"].append(2)
    cache.get("k")["v"].append(3)
    assert cache.get("k") == {"v": [1]}
    with pytest.raises(TypeError):
        cache.set("k", {1})
    assert cache.get("k") == {"v": [1]}
