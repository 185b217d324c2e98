"""Bounds and sizes (SPEC: Bounds)."""

from __future__ import annotations

import array

import pytest

from flightcache import Cache, ManualClock, _native


def test_max_entries_is_never_exceeded() -> None:
    c = Cache(max_entries=100)
    for i in range(1000):
        c.set(f"k{i}", i)
        assert len(c) <= 100
    s = c.stats()
    assert s.entries <= 100
    assert s.evictions >= 900


def test_max_bytes_is_never_exceeded() -> None:
    c = Cache(max_entries=10_000, max_bytes=1000)
    for i in range(500):
        c.set(f"k{i:03d}", "x" * 36)  # 4 + 36 = 40 bytes an entry
        assert c.stats().bytes <= 1000
    assert c.stats().evictions > 0


def test_sizes_are_exact_for_str_and_bytes() -> None:
    c = Cache()
    c.set("k", "héllo")  # 6 UTF-8 bytes
    assert c.stats().bytes == 1 + 6
    c.clear()
    c.set("k", b"12345")
    assert c.stats().bytes == 1 + 5
    c.clear()
    c.set("k", bytearray(7))
    assert c.stats().bytes == 1 + 7
    c.clear()
    c.set("k", memoryview(array.array("d", [1.0, 2.0])))
    assert c.stats().bytes == 1 + 16


@pytest.mark.parametrize("v", [0, 10**30, 1.5, True, None])
def test_scalars_count_a_small_constant(v: object) -> None:
    c = Cache()
    c.set("k", v)
    assert c.stats().bytes == 1 + _native.SCALAR_SIZE


def test_size_of_measures_other_values() -> None:
    seen = []

    def size_of(v: object) -> int:
        seen.append(v)
        return 1000

    c = Cache(size_of=size_of, max_value_bytes=999)
    obj = {"a": 1}
    assert c.set("k", obj) is False  # 1000 > max_value_bytes
    assert seen == [obj]
    assert c.set("s", "short") is True  # str is measured exactly, not by size_of
    assert seen == [obj]
    assert c.stats().rejected == 1


def test_a_bad_size_of_result_is_an_error_and_stores_nothing() -> None:
    c = Cache(size_of=lambda v: -1)
    with pytest.raises(ValueError):
        c.set("k", [1])
    c2 = Cache(size_of=lambda v: "big")
    with pytest.raises(TypeError):
        c2.set("k", [1])
    assert "k" not in c and "k" not in c2


def test_the_estimate_grows_with_the_value() -> None:
    c = Cache()
    c.set("small", [1])
    small = c.stats().bytes
    c.clear()
    c.set("large", ["x" * 1000 for _ in range(10)])
    assert c.stats().bytes > small + 10_000


def test_max_key_bytes_rejects_and_counts() -> None:
    c = Cache(max_key_bytes=4)
    assert c.set("abcd", 1) is True
    assert c.set("abcde", 1) is False
    assert "abcde" not in c
    assert c.stats().rejected == 1


def test_max_value_bytes_rejects_but_a_loaded_value_is_returned() -> None:
    c = Cache(max_value_bytes=3)
    assert c.set("k", "abc") is True
    assert c.set("k", "abcd") is False
    assert "k" not in c  # the newest write wins: the old value is gone too
    assert c.get("j", get_value=lambda: "toolong") == "toolong"
    assert "j" not in c
    assert c.stats().rejected == 2


def test_an_entry_larger_than_max_bytes_is_rejected_and_counted() -> None:
    c = Cache(max_bytes=100)
    assert c.set("k", "x" * 200) is False
    assert c.stats().rejected == 1
    assert c.stats().bytes == 0


def test_bad_bounds_are_errors() -> None:
    for kw in ("max_bytes", "max_key_bytes", "max_value_bytes"):
        with pytest.raises(TypeError):
            Cache(**{kw: "1"})  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            Cache(**{kw: -1})  # type: ignore[arg-type]


def test_evictions_keep_counts_right(clock: ManualClock) -> None:
    c = Cache(max_entries=64, clock=clock)
    for i in range(1000):
        c.set(str(i), "v")
    s = c.stats()
    assert s.entries == len(c) <= 64
    assert s.bytes == sum(len(k) + 1 for k in c.keys())
