"""Instruction-count / timing driver for flightcache's Python binding (issue 8 measurement).

    PYTHONHASHSEED=0 <worktree>/.venv/bin/python py_driver.py MODE N [MAXN]

Setup and warm-up do not depend on N (every key list is built for MAXN operations), so
(Ir(2N) - Ir(N)) / N is the cost of one operation, loop included. Prints ns/op of the loop.
MODE: empty (the loop calling a trivial builtin), get_random, get_hot, loader_hit,
set_evict, load_miss_ttl0, load_miss_distinct.
"""
import gc
import itertools
import random
import sys
import time

import flightcache

mode, n = sys.argv[1], int(sys.argv[2])
maxn = int(sys.argv[3]) if len(sys.argv) > 3 else 2_000_000
assert n <= maxn
TTL_MS = 3600 * 1000
N_KEYS = 100_000
WARM = 200_000
rng = random.Random(42)
keys = [f"key-{i:012d}" for i in range(N_KEYS)]
order = keys[:]
rng.shuffle(order)
hot = keys[:1000]
hot_order = [rng.choice(hot) for _ in range(N_KEYS)]


def cycle_to(seq, count):
    return list(itertools.islice(itertools.cycle(seq), count))


def value_of(k):
    return k + "-value"


def never():
    return "never called on a hit"


if mode in ("empty", "get_random", "get_hot", "loader_hit"):
    c = flightcache.Cache(max_entries=2 * N_KEYS, ttl=TTL_MS)
    for k in keys:
        c.set(k, value_of(k))
    seq = cycle_to(hot_order if mode in ("get_hot", "loader_hit") else order, WARM + maxn)
    get = c.get
    if mode == "empty":
        f = id

        def run(it):
            for k in it:
                f(k)
    elif mode == "loader_hit":
        def run(it):
            for k in it:
                get(k, never)
    else:
        def run(it):
            for k in it:
                get(k)
elif mode == "set_evict":
    c = flightcache.Cache(max_entries=N_KEYS, ttl=TTL_MS)
    seq = [f"s-{i:014d}" for i in range(WARM + maxn)]
    s = c.set
    v = "v" * 32

    def run(it):
        for k in it:
            s(k, v)
elif mode == "load_miss_ttl0":
    # ttl 0: the loaded value is returned and not kept, so every call misses and loads.
    c = flightcache.Cache(max_entries=N_KEYS, ttl=TTL_MS)
    seq = ["k"] * (WARM + maxn)
    get = c.get
    v = "v" * 32
    load = lambda: v  # noqa: E731

    def run(it):
        for k in it:
            get(k, load, 0)
elif mode == "load_miss_distinct":
    # Keys never seen before; bound 100k, so once warm every load also evicts.
    c = flightcache.Cache(max_entries=N_KEYS, ttl=TTL_MS)
    seq = [f"m-{i:014d}" for i in range(WARM + maxn)]
    get = c.get
    v = "v" * 32
    load = lambda: v  # noqa: E731

    def run(it):
        for k in it:
            get(k, load)
else:
    raise SystemExit(f"unknown mode {mode}")

run(seq[:WARM])
rest = seq[WARM:WARM + maxn]
gc.collect()
gc.disable()
t = time.perf_counter_ns()
run(itertools.islice(rest, n))
dt = time.perf_counter_ns() - t
gc.enable()
print(f"{mode} n={n} {dt / n:.1f} ns/op", flush=True)
