"""flightcache against the Python caches people use, side by side in one run.

    make python-bench        (or: .venv/bin/python bench/python_bench.py [--quick])

Every timing is the median of several repetitions, in nanoseconds per operation, measured in
this process with the GC paused; the memory figures come from one subprocess per library.
Ratios are against cachebox VTTLCache (the closest match: bounded, a TTL per entry).
No number here is asserted by a test.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from typing import Any, Callable

import cachebox
import cachetools
import moka_py

import flightcache

TTL_S = 3600
TTL_MS = TTL_S * 1000
LIBS = [
    "flightcache",
    "cachebox.LRUCache",
    "cachebox.VTTLCache",
    "moka_py.Moka",
    "cachetools.TTLCache",
    "functools.lru_cache",
]
BASE = "cachebox.VTTLCache"
# Not a library: flightcache on a ManualClock, timed for the hits only, to show what the
# precise clock read (the core's exact-to-the-millisecond expiry) costs on each hit.
CLOCKLESS = "flightcache[ManualClock]"


def value_of(k: str) -> str:
    return k + "-value"


class Lib:
    """One library's cache, with its idiomatic get, set and get-with-loader."""

    def __init__(self, name: str, bound: int) -> None:
        self.name = name
        loader = value_of
        if name in ("flightcache", CLOCKLESS):
            clock = flightcache.ManualClock() if name == CLOCKLESS else None
            c = flightcache.Cache(max_entries=bound, ttl=TTL_MS, clock=clock)
            self.get = c.get
            self.set = c.set
            self.size = lambda: len(c)
            g = c.get
            self.get_with = lambda: (g, True)  # g(k, lambda: ...) ; see loops below
            self.cache: Any = c
        elif name == "cachebox.LRUCache":
            c = cachebox.LRUCache(bound)
            self.get, self.set, self.size, self.cache = c.get, c.insert, lambda: len(c), c
        elif name == "cachebox.VTTLCache":
            c = cachebox.VTTLCache(bound)
            self.get, self.size, self.cache = c.get, lambda: len(c), c
            ins = c.insert
            self.set = lambda k, v: ins(k, v, TTL_S)
            self.set_ttl = ins
        elif name == "moka_py.Moka":
            c = moka_py.Moka(bound, ttl=TTL_S)
            self.get, self.set, self.size, self.cache = c.get, c.set, lambda: c.count(), c
        elif name == "cachetools.TTLCache":
            c = cachetools.TTLCache(bound, TTL_S)
            self.get, self.set, self.size, self.cache = c.get, c.__setitem__, lambda: len(c), c
        elif name == "functools.lru_cache":
            # lru_cache has no get or set: a call is a get, a call that misses is a set.
            f = functools.lru_cache(maxsize=bound)(loader)
            self.get = f
            self.set = lambda k, v: f(k)
            self.size = lambda: f.cache_info().currsize
            self.cache = f
        else:
            raise ValueError(name)


def timeit(loop: Callable[[], int], reps: int) -> float:
    """Median ns per operation of `loop` (which returns how many operations it did)."""
    samples = []
    gc.collect()
    gc.disable()
    try:
        for _ in range(reps):
            t = time.perf_counter_ns()
            n = loop()
            samples.append((time.perf_counter_ns() - t) / n)
    finally:
        gc.enable()
    return statistics.median(samples)


# ---------------------------------------------------------------- timed loops
# Each loop calls the library's bound method directly, so the loop costs the same for all.


def loop_get(get: Callable[[str], Any], order: list[str]) -> Callable[[], int]:
    def run() -> int:
        for k in order:
            get(k)
        return len(order)

    return run


def loop_set(lib: Lib, keys: list[str], v: str) -> Callable[[], int]:
    if lib.name == "cachebox.VTTLCache":
        ins = lib.set_ttl

        def run_vttl() -> int:
            for k in keys:
                ins(k, v, TTL_S)
            return len(keys)

        return run_vttl
    if lib.name == "functools.lru_cache":
        f = lib.cache

        def run_lru() -> int:
            for k in keys:
                f(k)
            return len(keys)

        return run_lru
    s = lib.set

    def run() -> int:
        for k in keys:
            s(k, v)
        return len(keys)

    return run


def loop_get_with_loader(lib: Lib, order: list[str]) -> Callable[[], int]:
    """A hit through each library's "get, or load when absent" API."""
    name, c = lib.name, lib.cache
    if name in ("flightcache", CLOCKLESS):
        g = c.get
        load = lambda: "never called on a hit"  # noqa: E731

        def run_fc() -> int:
            for k in order:
                g(k, load)
            return len(order)

        return run_fc
    if name == "moka_py.Moka":
        gw = c.get_with
        load = lambda: "never called on a hit"  # noqa: E731

        def run_moka() -> int:
            for k in order:
                gw(k, load)
            return len(order)

        return run_moka
    if name.startswith("cachebox"):
        f = cachebox.cached(c)(value_of)
    elif name == "cachetools.TTLCache":
        f = cachetools.cached(c)(value_of)
    else:
        f = c  # lru_cache: the call is the get-with-loader
    return loop_get(f, order)


# ---------------------------------------------------------------- single-flight


def threads_single_flight(name: str, fail: bool) -> tuple[int, str]:
    """32 threads ask for one missing key at once; the loader takes 50 ms. Returns
    (loads, what the callers got)."""
    loads = 0
    lock = threading.Lock()
    boom = RuntimeError("loader failed")

    def loader(key: str = "k") -> object:
        nonlocal loads
        with lock:
            loads += 1
        time.sleep(0.05)
        if fail:
            raise boom
        return object()

    if name == "flightcache":
        c = flightcache.Cache()
        call: Callable[[], object] = lambda: c.get("k", get_value=loader)  # noqa: E731
    elif name.startswith("cachebox"):
        cb = cachebox.LRUCache(100) if name.endswith("LRUCache") else cachebox.VTTLCache(100)
        f = cachebox.cached(cb)(loader)
        call = lambda: f("k")  # noqa: E731
    elif name == "moka_py.Moka":
        m = moka_py.Moka(100)
        call = lambda: m.get_with("k", loader)  # noqa: E731
    elif name == "cachetools.TTLCache":
        f2 = cachetools.cached(cachetools.TTLCache(100, TTL_S), lock=threading.Lock())(loader)
        call = lambda: f2("k")  # noqa: E731
    else:
        f3 = functools.lru_cache(maxsize=100)(loader)
        call = lambda: f3("k")  # noqa: E731

    results: list[Any] = [None] * 32
    barrier = threading.Barrier(32)

    def work(i: int) -> None:
        barrier.wait()
        try:
            results[i] = call()
        except BaseException as e:  # noqa: BLE001
            results[i] = e

    ts = [threading.Thread(target=work, args=(i,)) for i in range(32)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    same = all(r is results[0] for r in results)
    if fail:
        got = "same exception" if same and results[0] is boom else "different outcomes"
    else:
        got = "same object" if same else f"{len({id(r) for r in results})} objects"
    return loads, got


def tasks_single_flight(name: str) -> tuple[int | None, str]:
    """100 asyncio tasks ask for one missing key at once; the loader awaits 50 ms."""
    loads = 0

    async def loader(key: str = "k") -> object:
        nonlocal loads
        loads += 1
        await asyncio.sleep(0.05)
        return object()

    if name == "flightcache":
        c = flightcache.Cache()
        call: Callable[[], Any] = lambda: c.aget("k", get_value=loader)  # noqa: E731
    elif name.startswith("cachebox"):
        cb = cachebox.LRUCache(100) if name.endswith("LRUCache") else cachebox.VTTLCache(100)
        f = cachebox.cached(cb)(loader)
        call = lambda: f("k")  # noqa: E731
    elif name == "moka_py.Moka":
        f2 = moka_py.cached(100, wait_concurrent=True)(loader)
        call = lambda: f2("k")  # noqa: E731
    elif name == "cachetools.TTLCache":
        # cachetools has no async support: the usual check-then-load pattern.
        tc: cachetools.TTLCache[str, object] = cachetools.TTLCache(100, TTL_S)

        async def manual() -> object:
            v = tc.get("k")
            if v is None:
                v = await loader()
                tc["k"] = v
            return v

        call = manual
    else:
        return None, "n/a (caches the coroutine object)"

    async def main() -> list[Any]:
        return await asyncio.gather(*(call() for _ in range(100)))

    results = asyncio.run(main())
    same = all(r is results[0] for r in results)
    return loads, "same object" if same else f"{len({id(r) for r in results})} objects"


# ---------------------------------------------------------------- memory (subprocess)


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def rss_child(name: str, n: int) -> None:
    lib = Lib(name, n)
    s = lib.set
    gc.collect()
    before = rss_bytes()
    if name == "functools.lru_cache":
        f = lib.cache
        for i in range(n):
            f("%016d" % i)  # the function returns a 32-byte value made from the key
    else:
        for i in range(n):
            s("%016d" % i, "%032d" % i)
    gc.collect()
    after = rss_bytes()
    print(json.dumps({"bytes": after - before, "entries": lib.size()}))


def rss_per_entry(name: str, n: int) -> tuple[float, int]:
    out = subprocess.run(
        [sys.executable, __file__, "--rss-child", name, "--n", str(n)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    r = json.loads(out.strip().splitlines()[-1])
    return r["bytes"] / max(r["entries"], 1), r["entries"]


# ---------------------------------------------------------------- main


def fmt_ratio(x: float | None, base: float | None) -> str:
    if x is None or base is None or base == 0:
        return "-"
    return f"{x / base:.2f}x"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer keys and repetitions")
    ap.add_argument("--rss-child")
    ap.add_argument("--n", type=int, default=1_000_000)
    args = ap.parse_args()
    if args.rss_child:
        if args.rss_child == "value_of_check":
            return
        # lru_cache's loader builds the 32-byte value from the 16-byte key.
        global value_of
        value_of = lambda k: "%032d" % int(k)  # noqa: E731
        rss_child(args.rss_child, args.n)
        return

    quick = args.quick
    reps = 3 if quick else 7
    n_keys = 20_000 if quick else 100_000
    stream = 200_000 if quick else 1_000_000
    bound = n_keys
    rss_n = 200_000 if quick else 1_000_000
    rng = random.Random(42)
    keys = [f"key-{i:012d}" for i in range(n_keys)]
    order = keys[:]
    rng.shuffle(order)
    hot = keys[:1000]
    hot_order = [rng.choice(hot) for _ in range(n_keys)]
    stream_keys = [f"s-{i:014d}" for i in range(stream)]

    print(f"python {sys.version.split()[0]}, flightcache {flightcache.__version__}, "
          f"cachebox {getattr(cachebox, '__version__', '?')}, moka_py {getattr(moka_py, 'VERSION', '?')}, "
          f"cachetools {cachetools.__version__}; {reps} repetitions, medians", flush=True)

    rows: dict[str, dict[str, Any]] = {name: {} for name in LIBS}
    samples: dict[str, dict[str, list[float]]] = {name: {} for name in LIBS}

    def add(name: str, key: str, ns: float) -> None:
        samples[name].setdefault(key, []).append(ns)

    # Repetitions go round the libraries, so that a busy moment of the machine falls on all.
    libs = {}
    rows[CLOCKLESS] = {}
    samples[CLOCKLESS] = {}
    for name in LIBS + [CLOCKLESS]:
        lib = Lib(name, 2 * n_keys)
        for k in keys:
            lib.set(k, value_of(k))
        libs[name] = lib
    for _ in range(reps):
        for name in LIBS + [CLOCKLESS]:
            lib = libs[name]
            add(name, "get_random", timeit(loop_get(lib.get, order), 1))
            add(name, "get_hot", timeit(loop_get(lib.get, hot_order), 1))
            add(name, "loader_hit", timeit(loop_get_with_loader(lib, hot_order), 1))
    del libs, lib
    print("  timed the hits", flush=True)
    for _ in range(max(3, reps // 2)):
        for name in LIBS:
            lib = Lib(name, bound)
            add(name, "set_evict", timeit(loop_set(lib, stream_keys, "v" * 32), 1))
            assert lib.size() <= bound, (name, lib.size())
            del lib
    print("  timed the sets", flush=True)
    for name in LIBS + [CLOCKLESS]:
        for key, xs in samples[name].items():
            rows[name][key] = statistics.median(xs)

    for name in LIBS:
        rows[name]["rss"], rows[name]["rss_entries"] = rss_per_entry(name, rss_n)
    print("  measured memory", flush=True)

    sf: dict[str, dict[str, Any]] = {name: {} for name in LIBS}
    for name in LIBS:
        sf[name]["threads"] = threads_single_flight(name, fail=False)
        sf[name]["raising"] = threads_single_flight(name, fail=True)
        sf[name]["tasks"] = tasks_single_flight(name)

    base = rows[BASE]
    cols = [
        ("get_random", f"get hit, {n_keys:,} keys random"),
        ("get_hot", "get hit, 1,000 hot keys"),
        ("loader_hit", "get-with-loader hit (hot)"),
        ("set_evict", f"set, bound {bound:,}, {stream:,} keys"),
    ]
    print()
    print(f"{'ns/op (median)':<38}" + "".join(f"{n:>21}" for n in LIBS))
    for key, label in cols:
        print(f"{label:<38}" + "".join(f"{rows[n][key]:>13.1f} ({fmt_ratio(rows[n][key], base[key]):>5})" for n in LIBS))
    print(f"{f'RSS bytes/entry, {rss_n:,} x (16 B key, 32 B value)':<38}"
          + "".join(f"{rows[n]['rss']:>13.1f} ({fmt_ratio(rows[n]['rss'], base['rss']):>5})" for n in LIBS))
    print(f"{'  entries kept':<38}" + "".join(f"{rows[n]['rss_entries']:>21,}" for n in LIBS))
    print()
    print(f"{'single-flight (loads, outcome)':<38}" + "".join(f"{n:>21}" for n in LIBS))
    for key, label in [("threads", "32 threads, 50 ms loader"), ("raising", "32 threads, raising loader"),
                       ("tasks", "100 asyncio tasks")]:
        cells = []
        for n in LIBS:
            loads, got = sf[n][key]
            cells.append(f"{'-' if loads is None else loads}: {got}"[:20])
        print(f"{label:<38}" + "".join(f"{c:>21}" for c in cells))

    fc, lru = rows["flightcache"], rows["cachebox.LRUCache"]
    ml = rows[CLOCKLESS]
    print()
    print(f"flightcache on a ManualClock (no clock read; not a configuration to use, a measurement):")
    for key, label in cols[:3]:
        print(f"  {label:<36} {ml[key]:7.1f} ns vs {fc[key]:7.1f} ns with the system clock, "
              f"{fmt_ratio(ml[key], base[key])} of VTTLCache")
    print()
    print("targets (flightcache vs cachebox, both sides quoted):")

    def target(label: str, ours: float, theirs: float, limit: float, unit: str = "ns") -> None:
        ok = ours <= theirs * limit
        print(f"  [{'met' if ok else 'NOT met'}] {label}: {ours:.1f} {unit} vs {theirs:.1f} {unit} "
              f"= {ours / theirs:.2f}x (target <= {limit}x)")

    target("get hit (random) <= VTTLCache", fc["get_random"], base["get_random"], 1.0)
    target("get hit (hot) <= VTTLCache", fc["get_hot"], base["get_hot"], 1.0)
    target("stretch: get hit (random) <= LRUCache", fc["get_random"], lru["get_random"], 1.0)
    target("stretch: get hit (hot) <= LRUCache", fc["get_hot"], lru["get_hot"], 1.0)
    target("set with eviction <= VTTLCache", fc["set_evict"], base["set_evict"], 1.0)
    target("get-with-loader hit <= 1.2x plain get (hot)", fc["loader_hit"], fc["get_hot"], 1.2)
    target("bytes/entry <= VTTLCache", fc["rss"], base["rss"], 1.0, "B")
    target("bytes/entry <= LRUCache", fc["rss"], lru["rss"], 1.0, "B")
    one = all(sf["flightcache"][k][0] == 1 for k in ("threads", "raising", "tasks"))
    print(f"  [{'met' if one else 'NOT met'}] one load in every single-flight case: "
          f"threads {sf['flightcache']['threads']}, raising {sf['flightcache']['raising']}, "
          f"tasks {sf['flightcache']['tasks']}")


if __name__ == "__main__":
    main()
