"""The exception classes, and that bad input leaves the cache as it was (SPEC: Errors)."""

from __future__ import annotations

import math

import pytest

import flightcache
from flightcache import (
    Cache,
    FlightcacheError,
    InvalidArgumentError,
    LoaderError,
    LoadTimeoutError,
    ReentrantLoadError,
    WrongTypeError,
)


def test_hierarchy() -> None:
    assert issubclass(InvalidArgumentError, FlightcacheError)
    assert issubclass(InvalidArgumentError, ValueError)
    assert issubclass(WrongTypeError, FlightcacheError)
    assert issubclass(WrongTypeError, TypeError)
    assert issubclass(LoadTimeoutError, FlightcacheError)
    assert issubclass(LoadTimeoutError, TimeoutError)
    assert issubclass(ReentrantLoadError, FlightcacheError)
    assert issubclass(LoaderError, FlightcacheError)
    assert flightcache.exceptions.FlightcacheError is FlightcacheError
    kinds = {c.kind for c in (InvalidArgumentError, WrongTypeError, LoadTimeoutError, ReentrantLoadError, LoaderError)}
    assert kinds == {"invalid_argument", "wrong_type", "timeout", "reentrant", "loader_error"}


def test_loader_exceptions_pass_through_unchanged() -> None:
    c = Cache()

    class Custom(Exception):
        pass

    err = Custom("x")

    def boom() -> None:
        raise err

    with pytest.raises(Custom) as e:
        c.get("k", get_value=boom)
    assert e.value is err
    assert not isinstance(e.value, FlightcacheError)


def test_bad_input_never_corrupts_the_cache() -> None:
    c = Cache(max_entries=100, max_value_bytes=1000)
    for i in range(50):
        c.set(f"k{i}", i)
    before = {k: c.get(k) for k in c.keys()}
    stats_before = c.stats()
    bad_calls = [
        lambda: c.set(1, 1),  # type: ignore[arg-type]
        lambda: c.set("k1", 1, ttl=-1),
        lambda: c.set("k1", 1, ttl=math.nan),
        lambda: c.set("k1", 1, ttl="x"),  # type: ignore[arg-type]
        lambda: c.set("k1", 1, ttl=lambda v: 1 / 0),
        lambda: c.expire("k1", -1),
        lambda: c.incr("k1", "x"),  # type: ignore[arg-type]
        lambda: c.get("k1", max_age=-1),
        lambda: c.get("new", get_value=lambda: 1, ttl=-1),
        lambda: c.get("new", get_value=5),  # type: ignore[call-overload]
        lambda: c.namespace(""),
        lambda: c.memoize(ttl=-1),
    ]
    for call in bad_calls:
        with pytest.raises((ValueError, TypeError, ZeroDivisionError)):
            call()
    c.set("str", "s")
    with pytest.raises(TypeError):
        c.incr("str")
    c.delete("str")
    assert {k: c.get(k) for k in c.keys()} == before
    after = c.stats()
    assert (after.entries, after.bytes, after.loads) == (
        stats_before.entries,
        stats_before.bytes,
        stats_before.loads,
    )
