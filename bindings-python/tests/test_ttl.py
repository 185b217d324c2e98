"""TTL rules, on a ManualClock (no sleeping)."""

from __future__ import annotations

import datetime
import math

import pytest

from flightcache import Cache, InvalidArgumentError, ManualClock, WrongTypeError

WEEK_MS = 7 * 24 * 3600 * 1000


def test_expiry_is_exact_to_the_millisecond(cache: Cache, clock: ManualClock) -> None:
    clock.advance(1234)
    cache.set("k", "v", ttl=100)
    clock.advance(99)
    assert cache.get("k") == "v"  # t + d - 1
    clock.advance(1)
    assert cache.get("k") is None  # t + d
    assert "k" not in cache


def test_default_ttl_is_seven_days(clock: ManualClock) -> None:
    c = Cache(clock=clock)
    c.set("k", 1)
    assert c.remaining_ttl("k") == WEEK_MS
    clock.advance(WEEK_MS - 1)
    assert c.get("k") == 1
    clock.advance(1)
    assert c.get("k") is None


def test_the_cache_ttl_and_a_call_ttl(clock: ManualClock) -> None:
    c = Cache(ttl=1000, clock=clock)
    c.set("default", 1)
    c.set("call", 1, ttl=10)
    assert c.remaining_ttl("default") == 1000
    assert c.remaining_ttl("call") == 10


def test_timedelta_ttls(clock: ManualClock) -> None:
    c = Cache(ttl=datetime.timedelta(seconds=2), clock=clock)
    c.set("a", 1)
    c.set("b", 1, ttl=datetime.timedelta(milliseconds=5))
    assert c.remaining_ttl("a") == 2000
    assert c.remaining_ttl("b") == 5
    clock.advance(datetime.timedelta(milliseconds=5))
    assert c.get("b") is None


def test_ttl_zero_loads_and_stores_nothing(cache: Cache) -> None:
    calls = []
    assert cache.set("k", 1, ttl=0) is False
    assert "k" not in cache
    v = cache.get("k", get_value=lambda: calls.append(1) or "loaded", ttl=0)
    assert v == "loaded"
    assert "k" not in cache
    cache.get("k", get_value=lambda: calls.append(1) or "loaded", ttl=0)
    assert len(calls) == 2


def test_ttl_zero_removes_the_previous_value(cache: Cache) -> None:
    cache.set("k", 1)
    assert cache.set("k", 2, ttl=0) is False
    assert cache.get("k") is None


@pytest.mark.parametrize("bad", [-1, -0.5, math.nan, datetime.timedelta(seconds=-1)])
def test_a_negative_or_nan_ttl_is_a_value_error_and_changes_nothing(
    cache: Cache, bad: object
) -> None:
    cache.set("k", "old")
    for call in (
        lambda: cache.set("k", "new", ttl=bad),  # type: ignore[arg-type]
        lambda: cache.get("k2", get_value=lambda: "x", ttl=bad),  # type: ignore[arg-type]
        lambda: cache.expire("k", bad),  # type: ignore[arg-type]
    ):
        with pytest.raises(ValueError) as e:
            call()
        assert isinstance(e.value, InvalidArgumentError)
    assert cache.get("k") == "old"
    assert "k2" not in cache
    assert cache.stats().loads == 0


@pytest.mark.parametrize("bad", ["60", b"1", [1], True])
def test_a_non_numeric_ttl_is_a_type_error_and_changes_nothing(cache: Cache, bad: object) -> None:
    cache.set("k", "old")
    with pytest.raises(TypeError) as e:
        cache.set("k", "new", ttl=bad)  # type: ignore[arg-type]
    assert isinstance(e.value, WrongTypeError)
    with pytest.raises(TypeError):
        cache.get("k2", get_value=lambda: 1, ttl=bad)  # type: ignore[arg-type]
    assert cache.get("k") == "old"
    assert "k2" not in cache


def test_infinite_ttl_never_expires(cache: Cache, clock: ManualClock) -> None:
    cache.set("k", 1, ttl=math.inf)
    assert cache.remaining_ttl("k") == math.inf
    clock.advance(10 * WEEK_MS)
    assert cache.get("k") == 1


def test_max_ttl_caps_every_ttl(clock: ManualClock) -> None:
    c = Cache(ttl=WEEK_MS, max_ttl=500, clock=clock)
    c.set("a", 1)
    c.set("b", 1, ttl=10_000)
    c.get("c", get_value=lambda: 1, ttl=10_000)
    for k in "abc":
        assert c.remaining_ttl(k) == 500


def test_ttl_may_be_a_function_of_the_value(cache: Cache, clock: ManualClock) -> None:
    token = {"token": "t", "expires_in_ms": 300}
    v = cache.get("tok", get_value=lambda: token, ttl=lambda d: d["expires_in_ms"])
    assert v is token
    assert cache.remaining_ttl("tok") == 300
    cache.set("s", {"expires_in_ms": 50}, ttl=lambda d: d["expires_in_ms"])
    assert cache.remaining_ttl("s") == 50
    cache.set("td", 1, ttl=lambda _: datetime.timedelta(seconds=1))
    assert cache.remaining_ttl("td") == 1000
    clock.advance(300)
    assert cache.get("tok") is None


def test_a_bad_ttl_from_the_function_fails_the_load_and_stores_nothing(cache: Cache) -> None:
    with pytest.raises(ValueError):
        cache.get("k", get_value=lambda: 1, ttl=lambda v: -5)
    assert "k" not in cache
    with pytest.raises(ZeroDivisionError):
        cache.get("k", get_value=lambda: 1, ttl=lambda v: 1 / 0)
    assert "k" not in cache


def test_expired_entries_stop_costing_memory_without_reads(clock: ManualClock) -> None:
    c = Cache(max_entries=10_000, clock=clock)
    for i in range(1000):
        c.set(f"k{i}", "x" * 100, ttl=10)
    c.set("keep", 1, ttl=10_000)
    assert c.stats().entries == 1001
    clock.advance(2000)
    # Any call sweeps once the sweep is due; stats() reports after sweeping.
    c.set("other", 1)
    s = c.stats()
    assert s.entries == 2
    assert s.expirations == 1000
    assert s.bytes < 100


def test_max_age_counts_older_entries_as_absent(cache: Cache, clock: ManualClock) -> None:
    cache.set("k", "v1")
    clock.advance(100)
    assert cache.get("k", max_age=101) == "v1"
    assert cache.get("k", max_age=100) is None
    assert cache.get("k", max_age=0) is None
    assert cache.get("k") == "v1"  # still stored
    calls = []
    v = cache.get("k", get_value=lambda: calls.append(1) or "v2", max_age=0)
    assert v == "v2" and calls == [1]
    assert cache.get("k") == "v2"
    with pytest.raises(ValueError):
        cache.get("k", max_age=-1)


def test_expire_and_remaining_ttl(cache: Cache, clock: ManualClock) -> None:
    assert cache.remaining_ttl("k") is None
    assert cache.expire("k", 100) is False
    cache.set("k", 1, ttl=1000)
    clock.advance(10)
    assert cache.remaining_ttl("k") == 990
    assert cache.expire("k", 50) is True
    assert cache.remaining_ttl("k") == 50
    clock.advance(50)
    assert cache.get("k") is None
    cache.set("k", 1)
    assert cache.expire("k", 0) is True
    assert "k" not in cache


def test_manual_clock() -> None:
    c = ManualClock()
    assert c.now == 0
    c.advance(5)
    c.advance(2.9)
    assert c.now == 7
    with pytest.raises(ValueError):
        c.advance(-1)
    with pytest.raises(TypeError):
        c.advance("1")  # type: ignore[arg-type]
    assert "ManualClock" in repr(c)
