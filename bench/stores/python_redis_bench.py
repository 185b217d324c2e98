"""flightcache's Redis store against plain redis-py and against cashews (Redis backend),
side by side in one run, on one loopback Redis. Run by `make store-bench` (part of
`make bench`):

    python_redis_bench.py [--quick] [--redis redis://127.0.0.1:PORT/0]

Without --redis it uses $CONFORMANCE_STORE (what `tests/stores/redis_server.py -- CMD`
sets), and without that it starts a Redis of its own with tests/stores/redis_server.py.

Figures are medians of several repetitions, in microseconds per operation, with p50 and p99
from the per-operation samples. A "store hit" is a read the in-process tier cannot answer
(the reading cache keeps 10 entries, Redis 5,000 written by another cache). Every side reads
and writes the same 32-character string under the same key numbers and decodes it to a str:
flightcache from its envelope, redis-py by json.loads of what SET json.dumps wrote (with
hiredis's parser when hiredis is installed, as `make store-bench` does, and with redis-py's
own parser beside it), cashews with its own (pickle) serializer. flightcache's set is its
store write (one Lua script: SET PX, void the key's lease, PUBLISH the change); the anchors'
is one SET. The sides compared take turns every 250 operations (the machine may be shared);
the in-process hits (a cache with Redis configured and one without, same keys) every 100.
The loads per key: 8 processes started at once ask for one cold key whose loader takes
200 ms, and each load is counted. Nothing here is asserted by a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Awaitable, Callable

import redis
import redis.asyncio
from redis._parsers import _RESP3Parser
from redis.utils import HIREDIS_AVAILABLE
from cashews import Cache as CashewsCache

from flightcache import Cache

ROOT = Path(__file__).resolve().parents[2]
N = 5000
VALUE = "v" * 32
PROCS = 8


def pcts(ts: list[float]) -> tuple[float, float]:
    ts.sort()
    return ts[len(ts) // 2] / 1000, ts[int(len(ts) * 0.99)] / 1000


def timed(op: Callable[[str], Any], keys: list[str], out: list[float], batch: int = 1) -> None:
    """Appends the time per operation (ns) of `op` over `keys`, timing `batch` operations at
    a time (in-process hits take about as long as reading the clock)."""
    clock = time.perf_counter_ns
    if batch == 1:
        for k in keys:
            t = clock()
            op(k)
            out.append(clock() - t)
        return
    for i in range(0, len(keys) - batch + 1, batch):
        t = clock()
        for k in keys[i : i + batch]:
            op(k)
        out.append((clock() - t) / batch)


async def atimed(op: Callable[[str], Awaitable[Any]], keys: list[str], out: list[float]) -> None:
    """The same for a coroutine, each operation awaited and timed inside one event loop."""
    clock = time.perf_counter_ns
    for k in keys:
        t = clock()
        await op(k)
        out.append(clock() - t)


def loads_per_key(kind: str, url: str, folder: str) -> tuple[int, float]:
    """PROCS processes start at once and each asks for a cold key whose load takes 200 ms;
    how many loads ran, and how late the latest process was for the start (s)."""
    log = Path(folder) / f"loads-{kind}.log"
    late = Path(folder) / f"late-{kind}.log"
    start = time.time() + 2.5
    code = f"""
import asyncio, json, sys, time
start, kind, url, log, late = {start!r}, {kind!r}, {url!r}, {str(log)!r}, {str(late)!r}
def note():
    with open(log, "a") as f:
        f.write("x\\n")
def wait():
    with open(late, "a") as f:
        f.write(f"{{time.time() - start}}\\n")
    time.sleep(max(0, start - time.time()))
def load():
    note()
    time.sleep(0.2)
    return "value"
if kind == "flightcache":
    from flightcache import Cache
    c = Cache(store=url)
    wait()
    assert c.get("cold", load) == "value"
elif kind == "redis-py":
    import redis
    r = redis.Redis.from_url(url)
    r.ping()
    wait()
    v = r.get("rp:cold")
    if v is None:
        r.set("rp:cold", json.dumps(load()))
else:
    from cashews import cache
    cache.setup(url)
    async def aload():
        note()
        await asyncio.sleep(0.2)
        return "value"
    if kind == "cashews":
        @cache(ttl=60)
        async def cold():
            return await aload()
    else:  # the same decorator with its Redis lock (lock=True)
        @cache(ttl=60, lock=True)
        async def cold_locked():
            return await aload()
        cold = cold_locked
    async def main():
        await cache.ping()
        wait()
        assert await cold() == "value"
    asyncio.run(main())
"""
    ps = [subprocess.Popen([sys.executable, "-c", code], cwd=folder) for _ in range(PROCS)]
    for p in ps:
        if p.wait() != 0:
            raise RuntimeError(f"a {kind} process failed ({p.returncode})")
    lateness = max(float(x) for x in late.read_text().split())
    return len(log.read_text().splitlines()), lateness


def run(url: str, quick: bool) -> None:
    reps = 3 if quick else 5
    ops = 3000 if quick else 10000
    folder = tempfile.mkdtemp(prefix="flightcache-redis-bench-")
    rp = redis.Redis.from_url(url)  # hiredis's parser when hiredis is installed (make installs it)
    rp.flushdb()  # this bench's keys only from here on
    # redis-py without hiredis (its own RESP3 parser in Python), for comparison.
    rp_pure = redis.Redis(connection_pool=redis.ConnectionPool.from_url(url, parser_class=_RESP3Parser))
    rpa = redis.asyncio.Redis.from_url(url)
    cw = CashewsCache()
    cw.setup(url)
    writer = Cache(store=url)
    reader = Cache(max_entries=10, store=url)
    plain = Cache()
    with_store = Cache(store=url)
    loop = asyncio.new_event_loop()
    arun = loop.run_until_complete

    async def fill() -> None:
        for i in range(N):
            writer.set(f"k{i}", VALUE)
            rp.set(f"rp:k{i}", json.dumps(VALUE))
            await cw.set(f"cw:k{i}", VALUE)

    arun(fill())
    for i in range(1000):
        plain.set(f"h{i}", VALUE)
        with_store.set(f"h{i}", VALUE)
    # Every side reads back what it wrote, decoded the same.
    assert reader.get("k1") == VALUE and json.loads(rp.get("rp:k1")) == VALUE
    assert arun(cw.get("cw:k1")) == VALUE and arun(reader.aget("k2")) == VALUE

    def rp_get(k: str) -> Any:
        return json.loads(rp.get("rp:" + k))

    def rp_set(k: str) -> Any:
        return rp.set("rp:" + k, json.dumps(VALUE))

    def rp_pure_get(k: str) -> Any:
        return json.loads(rp_pure.get("rp:" + k))

    def rp_pure_set(k: str) -> Any:
        return rp_pure.set("rp:" + k, json.dumps(VALUE))

    async def rpa_get(k: str) -> Any:
        return json.loads(await rpa.get("rp:" + k))

    async def rpa_set(k: str) -> Any:
        return await rpa.set("rp:" + k, json.dumps(VALUE))

    async def cw_get(k: str) -> Any:
        return await cw.get("cw:" + k)

    async def cw_set(k: str) -> Any:
        return await cw.set("cw:" + k, VALUE)

    async def fc_aget(k: str) -> Any:
        return await reader.aget(k)

    async def fc_aset(k: str) -> Any:
        return await writer.aset(k, VALUE)

    sync_ops: list[tuple[str, Callable[[str], Any]]] = [
        ("flightcache store hit (get)", reader.get),
        ("redis-py GET + json.loads", rp_get),
        ("flightcache set", lambda k: writer.set(k, VALUE)),
        ("redis-py SET json.dumps", rp_set),
    ]
    if HIREDIS_AVAILABLE:
        sync_ops += [
            ("redis-py GET + json.loads, no hiredis", rp_pure_get),
            ("redis-py SET json.dumps, no hiredis", rp_pure_set),
        ]
    async_ops: list[tuple[str, Callable[[str], Awaitable[Any]]]] = [
        ("flightcache store hit (aget)", fc_aget),
        ("redis.asyncio GET + json.loads", rpa_get),
        ("cashews get", cw_get),
        ("flightcache aset", fc_aset),
        ("redis.asyncio SET json.dumps", rpa_set),
        ("cashews set", cw_set),
    ]
    rng = random.Random(42)
    # In-process hits: 100 operations per timing, 1,000 timings per repetition.
    hot = [f"h{rng.randrange(1000)}" for _ in range(100_000)]
    inproc = [("in-process hit, no store", plain.get), ("in-process hit, Redis store", with_store.get)]
    # The machine is shared (load from other work comes and goes within seconds), so the sides
    # compared take turns: every CHUNK operations of one side, the same keys for each other
    # side, reads first, then writes, so that each figure and its anchors see the same load.
    chunk = 250
    results: dict[str, list[tuple[float, float]]] = {}
    started = time.monotonic()
    for _ in range(reps):
        keys = [f"k{rng.randrange(N)}" for _ in range(ops)]
        samples: dict[str, list[float]] = {}
        for j, i in enumerate(range(0, len(hot), 100)):
            pair = inproc if j % 2 == 0 else inproc[::-1]
            for name, op in pair:
                timed(op, hot[i : i + 100], samples.setdefault(name, []), batch=100)
        for phase in ("get", "set"):
            for i in range(0, ops, chunk):
                for name, op in sync_ops:
                    if ("set" in name.lower()) == (phase == "set"):
                        timed(op, keys[i : i + chunk], samples.setdefault(name, []))

            async def interleaved() -> None:
                for i in range(0, ops, chunk):
                    for name, aop in async_ops:
                        if ("set" in name.lower()) == (phase == "set"):
                            await atimed(aop, keys[i : i + chunk], samples.setdefault(name, []))

            arun(interleaved())
            time.sleep(0.2)  # the sets' change messages are handled before what follows
        for name, ts in samples.items():
            results.setdefault(name, []).append(pcts(ts))
    elapsed = time.monotonic() - started
    hits = reader.stats().store_hits
    assert hits >= 1.9 * reps * ops, f"only {hits} store hits"
    med = {n: (statistics.median(r[0] for r in v), statistics.median(r[1] for r in v)) for n, v in results.items()}
    print(f"Python, Redis store ({reps} repetitions of {ops} operations, {elapsed:.0f} s; "
          f"median p50 / p99, microseconds; redis-py {redis.__version__}"
          f"{' with hiredis' if HIREDIS_AVAILABLE else ' without hiredis'}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    for n, (p50, p99) in med.items():
        d = 3 if p99 < 10 else 2  # in-process hits are fractions of a microsecond
        print(f"  {n:38} p50 {p50:8.{d}f}  p99 {p99:8.{d}f}")

    def ratio(a: str, b: str, label: str, target: str = "") -> dict[str, float]:
        (a50, a99), (b50, b99) = med[a], med[b]
        t = ""
        if target:
            limit = float(target.strip("<=x "))
            t = (f"  (target {target}: p50 {'met' if a50 / b50 <= limit else 'NOT met'}, "
                 f"p99 {'met' if a99 / b99 <= limit else 'NOT met'})")
        d = 3 if max(a99, b99) < 10 else 2
        print(f"  {label:44} p50 {a50:.{d}f} / {b50:.{d}f} = {a50 / b50:.2f}x   "
              f"p99 {a99:.{d}f} / {b99:.{d}f} = {a99 / b99:.2f}x{t}")
        return {"p50": a50 / b50, "p99": a99 / b99}

    ratios = {
        "hit/redis-py": ratio("flightcache store hit (get)", "redis-py GET + json.loads", "store hit / redis-py GET+decode", "<= 1.0x"),
        "aget/redis.asyncio": ratio("flightcache store hit (aget)", "redis.asyncio GET + json.loads", "aget hit / redis.asyncio GET+decode"),
        "aget/cashews": ratio("flightcache store hit (aget)", "cashews get", "aget hit / cashews get"),
        "hit/cashews": ratio("flightcache store hit (get)", "cashews get", "get hit (sync) / cashews get"),
        "set/redis-py": ratio("flightcache set", "redis-py SET json.dumps", "set / redis-py SET"),
        **({
            "hit/redis-py-no-hiredis": ratio("flightcache store hit (get)", "redis-py GET + json.loads, no hiredis", "store hit / redis-py GET+decode, no hiredis", "<= 1.0x"),
            "set/redis-py-no-hiredis": ratio("flightcache set", "redis-py SET json.dumps, no hiredis", "set / redis-py SET, no hiredis"),
        } if HIREDIS_AVAILABLE else {}),
        "aset/redis.asyncio": ratio("flightcache aset", "redis.asyncio SET json.dumps", "aset / redis.asyncio SET"),
        "aset/cashews": ratio("flightcache aset", "cashews set", "aset / cashews set"),
        "in-process": ratio("in-process hit, Redis store", "in-process hit, no store", "in-process hit with / without Redis", "<= 1.05x"),
    }
    loads = {}
    for kind in ("flightcache", "cashews", "cashews-lock", "redis-py"):
        loads[kind], late = loads_per_key(kind, url, folder)
        loads[kind + " latest start (s)"] = round(late, 3)
    print(f"  loads of one cold key (200 ms loader) by {PROCS} processes: flightcache {loads['flightcache']}, "
          f"cashews @cache(ttl=60) {loads['cashews']}, redis-py GET-then-SET {loads['redis-py']}; "
          f"cashews @cache(ttl=60, lock=True) {loads['cashews-lock']}")
    worst = max(v for k, v in loads.items() if k.endswith("(s)"))
    print(f"  (the latest of the {PROCS} processes reached the common start {worst:+.3f} s after it)")
    print(json.dumps({"python_redis": med, "ratios": ratios, "loads": loads}))
    loop.run_until_complete(rpa.aclose())
    loop.close()
    shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--redis", help="redis://127.0.0.1:PORT/0 (default: $CONFORMANCE_STORE, or a server of its own)")
    args = ap.parse_args()
    url = args.redis or os.environ.get("CONFORMANCE_STORE", "")
    if url.startswith("redis://"):
        run(url, args.quick)
        return
    sys.path.insert(0, str(ROOT / "tests" / "stores"))
    from redis_server import RedisServer

    with RedisServer() as server:
        run(server.url, args.quick)


if __name__ == "__main__":
    main()
