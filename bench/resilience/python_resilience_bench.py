"""The resilience policies (issue 11) from Python: what they cost on a hit, and a
stale-while-revalidate workload against cashews' early refresh, both sides in one run.

    make resilience-bench    (or: .venv/bin/python bench/resilience/python_resilience_bench.py [--quick])

(a) Hits. Two caches, the same 1,000 live keys: one with every policy set (stale_ttl,
stale_if_error, soft_timeout, hard_timeout, refresh_ahead, fail_safe_backoff), one with none.
The TTL is an hour, so no refresh-ahead or stale path is reached while timing: only the hit
path is measured. The two sides take turns every 100 operations (the machine may be shared),
in a random order each repetition, with the GC paused; each sample is the mean of 100 hits
(one hit takes about as long as reading the clock). Figures: ns/op median and p99 of the
samples, and the ratio with policies / without.

(b) Stale-while-revalidate. 5 keys, a TTL of 50 ms (real time), a loader that takes 20 ms;
callers call get on the keys one after another for a few seconds. After warm-up (the first
load of each key) no caller should wait for the loader. Reported: per-call latency p50 / p99
/ max, calls that took longer than 5 ms, calls that waited for a load ("waited": the value
they got was loaded after they called), loader calls, and the calls served a value older
than the TTL ("stale serves"); both judged from the load time carried in the value, the same
way for every side. The sides: flightcache `aget` (stale_ttl 10 s) and cashews
`@cache.early(ttl=10 s, early_ttl=50 ms)` on its memory backend, each on one event loop with
the same callers (tasks), taking turns in one run; then flightcache's synchronous `get`
(threads; cashews has no synchronous API). cashews is used with its defaults, so its
thunder protection runs every call as a task: each of its calls takes at least one turn of
the event loop, and its latency includes the other callers' work in that turn. So its
"waited" also counts calls that got a refresh which finished during that turn without
having waited for it (a wait for a whole load would take 20 ms or more).

On this shared 2-core machine the p99 of the hit samples is set by preemptions (about 4 ms
for a whole sample, the scheduler's tick, on both sides alike): compare the medians. Nothing here is asserted by a test.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import statistics
import sys
import threading
import time
from datetime import timedelta
from typing import Any, Callable

from cashews import Cache as CashewsCache

from flightcache import Cache

HOUR_MS = 3_600_000
POLICIES: dict[str, Any] = dict(
    stale_ttl=60_000,
    stale_if_error=60_000,
    soft_timeout=100,
    hard_timeout=1_000,
    refresh_ahead=0.8,
    fail_safe_backoff=1_000,
)
N_KEYS = 1000
CHUNK = 100

SWR_KEYS = 5
SWR_TTL_MS = 50
SWR_LOAD_S = 0.020
SWR_STALE_MS = 10_000
SLOW_NS = 5_000_000


def pct(sorted_xs: list[float], q: float) -> float:
    return sorted_xs[min(len(sorted_xs) - 1, int(len(sorted_xs) * q))]


# ---------------------------------------------------------------- (a) hits


def hit_bench(reps: int, chunks: int) -> dict[str, Any]:
    keys = [f"key-{i}" for i in range(N_KEYS)]
    plain = Cache(ttl=HOUR_MS)
    policed = Cache(ttl=HOUR_MS, **POLICIES)
    for c in (plain, policed):
        for k in keys:
            c.set(k, k + "-value")

    def loader() -> str:  # never called: every key is live
        raise AssertionError("a loader was called on a hit")

    async def aloader() -> str:
        raise AssertionError("a loader was called on a hit")

    clock = time.perf_counter_ns

    def chunk_get(c: Cache, ks: list[str]) -> float:
        g = c.get
        t = clock()
        for k in ks:
            g(k)
        return (clock() - t) / len(ks)

    def chunk_get_loader(c: Cache, ks: list[str]) -> float:
        g = c.get
        t = clock()
        for k in ks:
            g(k, loader)
        return (clock() - t) / len(ks)

    async def achunk(c: Cache, ks: list[str]) -> float:
        g = c.aget
        t = clock()
        for k in ks:
            await g(k, aloader)
        return (clock() - t) / len(ks)

    ops: dict[str, Callable[[Cache, list[str]], float]] = {
        "get(key) hit": chunk_get,
        "get(key, loader) hit": chunk_get_loader,
    }
    samples: dict[str, dict[str, list[float]]] = {
        op: {"none": [], "all": []} for op in [*ops, "await aget(key, loader) hit"]
    }
    rep_ratios: dict[str, list[float]] = {op: [] for op in samples}
    loop = asyncio.new_event_loop()
    sides = [("none", plain), ("all", policed)]
    gc.collect()
    gc.disable()
    try:
        for _ in range(reps):
            for op in samples:
                per_rep: dict[str, list[float]] = {"none": [], "all": []}
                order = sides[:] if random.random() < 0.5 else sides[::-1]
                for i in range(chunks):
                    start = (i * CHUNK) % N_KEYS
                    ks = keys[start : start + CHUNK]
                    for name, c in order:
                        if op in ops:
                            per_rep[name].append(ops[op](c, ks))
                        else:
                            per_rep[name].append(loop.run_until_complete(achunk(c, ks)))
                    order.reverse()  # ABBA: neither side always goes first
                for name in per_rep:
                    samples[op][name].extend(per_rep[name])
                rep_ratios[op].append(
                    statistics.median(per_rep["all"]) / statistics.median(per_rep["none"])
                )
    finally:
        gc.enable()
        loop.close()
    for c in (plain, policed):
        s = c.stats()
        assert s.loads == 0 and s.refreshes == 0 and s.stale_hits == 0, s.as_dict()
    out: dict[str, Any] = {}
    for op, by in samples.items():
        row: dict[str, float] = {}
        for name in ("none", "all"):
            xs = sorted(by[name])
            row[f"{name}_p50"] = statistics.median(xs)
            row[f"{name}_p99"] = pct(xs, 0.99)
        row["ratio_p50"] = row["all_p50"] / row["none_p50"]
        row["ratio_p99"] = row["all_p99"] / row["none_p99"]
        rr = sorted(rep_ratios[op])
        row["rep_ratio_median"] = statistics.median(rr)
        row["rep_ratio_min"] = rr[0]
        row["rep_ratio_max"] = rr[-1]
        out[op] = row
    return out


# ---------------------------------------------------------------- (b) stale-while-revalidate


class Tally:
    def __init__(self) -> None:
        self.lat: list[int] = []
        self.stale = 0
        self.waited = 0
        self.loads = 0
        self.lock = threading.Lock()

    def summary(self, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        xs = sorted(self.lat)
        out = {
            "calls": len(xs),
            "p50_us": statistics.median(xs) / 1000,
            "p99_us": pct(xs, 0.99) / 1000,
            "max_us": xs[-1] / 1000,
            "over_5ms": sum(1 for x in xs if x > SLOW_NS),
            "waited": self.waited,
            "loader_calls": self.loads,
            "stale_serves": self.stale,
        }
        if extra:
            out.update(extra)
        return out


async def swr_async_round(side: str, seconds: float, callers: int) -> dict[str, Any]:
    """One side for `seconds` on this event loop: warm up each key, then `callers` tasks call
    get on the keys in turn, each call timed."""
    tally = Tally()
    ttl_ns = SWR_TTL_MS * 1_000_000
    keys = [f"swr-{i}" for i in range(SWR_KEYS)]

    async def load(key: str) -> tuple[str, int]:
        tally.loads += 1
        await asyncio.sleep(SWR_LOAD_S)
        return key, time.perf_counter_ns()

    if side == "flightcache":
        fc = Cache(ttl=SWR_TTL_MS, stale_ttl=SWR_STALE_MS)

        def call(key: str) -> Any:
            return fc.aget(key, lambda: load(key))

        def stats() -> dict[str, Any]:
            s = fc.stats()
            return {
                "stats_stale_hits": s.stale_hits,
                "stats_refreshes": s.refreshes,
                "stats_loads": s.loads,
            }
    else:
        cc = CashewsCache()
        cc.setup("mem://")
        cached = cc.early(
            ttl=timedelta(milliseconds=SWR_STALE_MS),
            early_ttl=timedelta(milliseconds=SWR_TTL_MS),
        )(load)

        def call(key: str) -> Any:
            return cached(key)

        def stats() -> dict[str, Any]:
            return {}

    for k in keys:  # warm-up: the first load of each key, not timed
        await call(k)
    clock = time.perf_counter_ns
    deadline = clock() + int(seconds * 1e9)

    async def caller(offset: int) -> None:
        i = offset
        lat = tally.lat
        while True:
            k = keys[i % SWR_KEYS]
            i += 1
            t = clock()
            _, loaded_at = await call(k)
            now = clock()
            lat.append(now - t)
            if now - loaded_at > ttl_ns:
                tally.stale += 1
            if loaded_at > t:
                tally.waited += 1
            if now > deadline:
                return
            await asyncio.sleep(0)  # let the other callers and the refreshes run

    await asyncio.gather(*(caller(j) for j in range(callers)))
    await asyncio.sleep(SWR_LOAD_S * 2)  # let refreshes in flight finish
    result = tally.summary(stats())
    if side != "flightcache":
        await cc.close()
    return result


def swr_sync_round(seconds: float, callers: int) -> dict[str, Any]:
    tally = Tally()
    ttl_ns = SWR_TTL_MS * 1_000_000
    keys = [f"swr-{i}" for i in range(SWR_KEYS)]
    fc = Cache(ttl=SWR_TTL_MS, stale_ttl=SWR_STALE_MS)

    def make_loader(key: str) -> Callable[[], tuple[str, int]]:
        def load() -> tuple[str, int]:
            with tally.lock:
                tally.loads += 1
            time.sleep(SWR_LOAD_S)
            return key, time.perf_counter_ns()

        return load

    loaders = {k: make_loader(k) for k in keys}
    for k in keys:
        fc.get(k, loaders[k])
    clock = time.perf_counter_ns
    deadline = clock() + int(seconds * 1e9)

    def caller(offset: int, lat: list[int], stale: list[int], waited: list[int]) -> None:
        i = offset
        while True:
            k = keys[i % SWR_KEYS]
            i += 1
            t = clock()
            _, loaded_at = fc.get(k, loaders[k])
            now = clock()
            lat.append(now - t)
            if now - loaded_at > ttl_ns:
                stale[0] += 1
            if loaded_at > t:
                waited[0] += 1
            if now > deadline:
                return
            time.sleep(0)  # yield the GIL between calls, as a request handler would

    lats: list[list[int]] = [[] for _ in range(callers)]
    stales = [[0] for _ in range(callers)]
    waits = [[0] for _ in range(callers)]
    threads = [
        threading.Thread(target=caller, args=(j, lats[j], stales[j], waits[j])) for j in range(callers)
    ]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    time.sleep(SWR_LOAD_S * 2)
    for lat in lats:
        tally.lat.extend(lat)
    tally.stale = sum(s[0] for s in stales)
    tally.waited = sum(w[0] for w in waits)
    s = fc.stats()
    return tally.summary(
        {"stats_stale_hits": s.stale_hits, "stats_refreshes": s.refreshes, "stats_loads": s.loads}
    )


def swr_bench(rounds: int, seconds: float, callers: int) -> dict[str, Any]:
    """The async sides take turns (ABBA) for `rounds` rounds of `seconds` each; figures are
    the medians over the rounds (counts are per round)."""
    per: dict[str, list[dict[str, Any]]] = {
        "flightcache aget": [],
        "cashews early": [],
        "flightcache get (threads)": [],
    }
    order = ["flightcache", "cashews"]
    for r in range(rounds):
        for side in order:
            res = asyncio.run(swr_async_round(side, seconds, callers))
            per["flightcache aget" if side == "flightcache" else "cashews early"].append(res)
        order.reverse()
        per["flightcache get (threads)"].append(swr_sync_round(seconds, callers))
    out: dict[str, Any] = {}
    for side, results in per.items():
        out[side] = {
            k: statistics.median(r[k] for r in results) for k in results[0]
        }
        out[side]["max_us"] = max(r["max_us"] for r in results)  # the worst over all rounds
    return out


# ---------------------------------------------------------------- report


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", help="also write the figures to this file")
    a = ap.parse_args()
    reps, chunks = (5, 100) if a.quick else (21, 300)
    rounds, seconds, callers = (2, 1.0, 4) if a.quick else (3, 3.0, 4)
    print(f"python {sys.version.split()[0]}; flightcache resilience bench", flush=True)
    hits = hit_bench(reps, chunks)
    print(
        f"\n(a) hit cost, every policy set vs none ({reps} repetitions x {chunks} turns of "
        f"{CHUNK} hits per side; ns/op)"
    )
    print(
        f"{'operation':30} {'none p50':>9} {'all p50':>9} {'ratio':>6} "
        f"{'none p99':>9} {'all p99':>9} {'ratio':>6}   per-rep ratio med [min, max]"
    )
    for op, r in hits.items():
        print(
            f"{op:30} {r['none_p50']:9.1f} {r['all_p50']:9.1f} {r['ratio_p50']:6.3f} "
            f"{r['none_p99']:9.1f} {r['all_p99']:9.1f} {r['ratio_p99']:6.3f}   "
            f"{r['rep_ratio_median']:.3f} [{r['rep_ratio_min']:.3f}, {r['rep_ratio_max']:.3f}]"
        )
    ok = all(r["ratio_p50"] <= 1.05 for r in hits.values())
    print(f"hit with policies <= 1.05x without (p50): {'yes' if ok else 'NO'}")

    swr = swr_bench(rounds, seconds, callers)
    print(
        f"\n(b) stale-while-revalidate: {SWR_KEYS} keys, TTL {SWR_TTL_MS} ms, loader "
        f"{SWR_LOAD_S * 1000:.0f} ms, {callers} callers, {seconds:g} s a round, {rounds} rounds "
        f"(medians over rounds; max is the worst of all rounds)"
    )
    print(
        f"{'side':28} {'calls':>8} {'p50 us':>8} {'p99 us':>8} {'max us':>9} "
        f"{'>5ms':>5} {'waited':>6} {'loads':>6} {'stale':>8}   core stats"
    )
    for side, r in swr.items():
        extra = ""
        if "stats_stale_hits" in r:
            extra = (
                f"stale_hits={r['stats_stale_hits']:.0f} refreshes={r['stats_refreshes']:.0f} "
                f"loads={r['stats_loads']:.0f}"
            )
        print(
            f"{side:28} {r['calls']:8.0f} {r['p50_us']:8.2f} {r['p99_us']:8.2f} "
            f"{r['max_us']:9.1f} {r['over_5ms']:5.0f} {r['waited']:6.0f} {r['loader_calls']:6.0f} "
            f"{r['stale_serves']:8.0f}   {extra}"
        )
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"hits": hits, "swr": swr}, f, indent=1)


if __name__ == "__main__":
    main()
