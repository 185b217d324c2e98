"""incr, exists, keys, clear, ping, namespaces, stats."""

from __future__ import annotations

import threading

import pytest

from flightcache import Cache, ManualClock, Stats


def test_incr(cache: Cache, clock: ManualClock) -> None:
    assert cache.incr("n") == 1
    assert cache.incr("n", 5) == 6
    assert cache.incr("n", -10) == -4
    assert cache.get("n") == -4
    cache.set("t", 10, ttl=100)
    clock.advance(50)
    assert cache.incr("t") == 11
    assert cache.remaining_ttl("t") == 50  # an existing key keeps its TTL


def test_incr_on_a_non_integer_is_a_type_error(cache: Cache) -> None:
    for v in ("1", 1.0, True, None, [1]):
        cache.set("k", v)
        with pytest.raises(TypeError):
            cache.incr("k")
        assert cache.get("k") == v
    with pytest.raises(TypeError):
        cache.incr("n", "1")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        cache.incr("n", 1.5)  # type: ignore[arg-type]
    assert "n" not in cache


def test_incr_overflow_is_an_error_and_changes_nothing(cache: Cache) -> None:
    cache.set("n", 2**63 - 1)
    with pytest.raises(ValueError):
        cache.incr("n")
    assert cache.get("n") == 2**63 - 1


def test_incr_is_atomic_across_threads() -> None:
    c = Cache()

    def work() -> None:
        for _ in range(2000):
            c.incr("n")

    ts = [threading.Thread(target=work) for _ in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert c.get("n") == 16_000


def test_exists_counts_neither_hit_nor_miss(cache: Cache) -> None:
    cache.set("k", 1)
    assert cache.exists("k") and not cache.exists("x")
    s = cache.stats()
    assert (s.hits, s.misses) == (0, 0)


def test_keys_clear_ping(cache: Cache, clock: ManualClock) -> None:
    cache.set("a", 1)
    cache.set("b", 2, ttl=10)
    assert sorted(cache.keys()) == ["a", "b"]
    clock.advance(10)
    assert cache.keys() == ["a"]
    cache.clear()
    assert cache.keys() == [] and len(cache) == 0
    assert cache.ping() is True


def test_namespaces_are_isolated(cache: Cache) -> None:
    users = cache.namespace("users")
    orders = cache.namespace("orders")
    users.set("1", "alice")
    orders.set("1", "order")
    cache.set("1", "root")
    assert users.get("1") == "alice"
    assert orders.get("1") == "order"
    assert cache.get("1") == "root"
    assert users.keys() == ["1"]
    assert sorted(cache.keys()) == sorted(["1", "users:1", "orders:1"])
    assert len(users) == 1
    users.clear()
    assert users.get("1") is None
    assert orders.get("1") == "order" and cache.get("1") == "root"
    # The whole API works on a view.
    assert users.incr("n") == 1
    assert users.get("x", get_value=lambda: 5) == 5
    nested = users.namespace("eu")
    nested.set("2", 1)
    assert "eu:2" in users.keys() and nested.keys() == ["2"]
    with pytest.raises(ValueError):
        cache.namespace("")
    with pytest.raises(ValueError):
        cache.namespace("a:b")


def test_stats_count_every_get_once(cache: Cache) -> None:
    cache.get("a")  # miss
    cache.set("a", 1)
    cache.get("a")  # hit
    cache["a"]  # hit
    cache.get("b", get_value=lambda: 1)  # miss + load
    cache.get("b", get_value=lambda: 1)  # hit
    with pytest.raises(RuntimeError):
        cache.get("c", get_value=lambda: (_ for _ in ()).throw(RuntimeError("x")))
    s = cache.stats()
    assert isinstance(s, Stats)
    assert (s.hits, s.misses, s.loads, s.load_errors) == (3, 3, 2, 1)
    assert s.entries == 2
    d = s.as_dict()
    assert set(d) == {
        "hits",
        "misses",
        "loads",
        "load_errors",
        "evictions",
        "expirations",
        "rejected",
        "entries",
        "bytes",
        "store_hits",
        "store_misses",
        "store_errors",
        "remote_loads_joined",
        "stale_hits",
        "refreshes",
        "refresh_errors",
    }
    assert s["hits"] == 3
    assert "hits=3" in repr(s)
    assert s == cache.stats()
