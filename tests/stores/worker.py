"""A Python process of the store tests: one cache on a shared store, one job, its result
printed as one JSON line. Run by test_*.py (never by hand).

    worker.py URL load KEY CALLERS LOG SLEEP_MS START_AT_MS
    worker.py URL hold KEY LOG READY
    worker.py URL get KEY
    worker.py URL set KEY VALUE_JSON [TTL_MS]
    worker.py URL echo KEY_FROM KEY_TO       (reads a value and writes it back under KEY_TO)
    worker.py URL steady PREFIX SECONDS READY (gets and sets without pause; see below)
    worker.py URL writes KEY N               (sets KEY to 0..N-1, one after another)

FLIGHTCACHE_TEST_OPTIONS (JSON, snake_case) adds options to the cache;
FLIGHTCACHE_TEST_LINGER_MS keeps a `load` worker alive that long after its calls. Loaders append
"LANG PID EPOCH_SECONDS" to their log.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from typing import Any

from flightcache import Cache


def encode(v: Any) -> Any:
    if isinstance(v, bytes):
        return {"$bytes": v.hex()}
    if isinstance(v, int) and not isinstance(v, bool) and abs(v) > 2**53 - 1:
        return {"$int": str(v)}
    if isinstance(v, list):
        return [encode(x) for x in v]
    if isinstance(v, dict):
        return {k: encode(x) for k, x in v.items()}
    return v


def decode(v: Any) -> Any:
    if isinstance(v, dict) and set(v) == {"$bytes"}:
        return bytes.fromhex(v["$bytes"])
    if isinstance(v, dict) and set(v) == {"$int"}:
        return int(v["$int"])
    if isinstance(v, list):
        return [decode(x) for x in v]
    if isinstance(v, dict):
        return {k: decode(x) for k, x in v.items()}
    return v


def main() -> None:
    url, mode, key, *args = sys.argv[1:]
    options = json.loads(os.environ.get("FLIGHTCACHE_TEST_OPTIONS", "{}"))
    cache = Cache(store=url, **options)
    if mode == "load":
        callers, log, sleep_ms, start_at = int(args[0]), args[1], int(args[2]), int(args[3])

        def loader() -> str:
            with open(log, "a") as f:
                f.write(f"python {os.getpid()} {time.time()}\n")
            time.sleep(sleep_ms / 1000)
            return f"from python {os.getpid()}"

        results: list[Any] = [None] * callers
        delay = start_at / 1000 - time.time()
        if delay > 0:
            time.sleep(delay)

        def call(i: int) -> None:
            try:
                results[i] = cache.get(key, loader)
            except Exception as e:  # noqa: BLE001 - reported to the test
                results[i] = f"error {type(e).__name__}: {e}"

        threads = [threading.Thread(target=call, args=(i,)) for i in range(callers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # Background work (a refresh) may outlive the calls: give it time before reporting.
        time.sleep(int(os.environ.get("FLIGHTCACHE_TEST_LINGER_MS", "0")) / 1000)
        print(json.dumps({"results": results, "stats": cache.stats().as_dict()}))
    elif mode == "hold":
        log, ready = args

        def never() -> str:
            with open(log, "a") as f:
                f.write(f"python {os.getpid()} {time.time()}\n")
            open(ready, "w").close()
            time.sleep(3600)
            return "never"

        cache.get(key, never)
    elif mode == "get":
        print(json.dumps({"value": encode(cache.get(key)), "has": key in cache}))
    elif mode == "set":
        ttl = int(args[1]) if len(args) > 1 else None
        stored = cache.set(key, decode(json.loads(args[0])), ttl)
        print(json.dumps({"stored": stored}))
        if os.environ.get("FLIGHTCACHE_TEST_AT"):
            with open(os.environ["FLIGHTCACHE_TEST_AT"], "w") as f:
                f.write(str(time.time()))
    elif mode == "echo":
        v = cache.get(key)
        print(json.dumps({"stored": cache.set(args[0], v), "value": encode(v)}))
    elif mode == "steady":
        steady(cache, key, float(args[0]), args[1])
    elif mode == "writes":
        for i in range(int(args[0])):
            cache.set(key, i)
        print(json.dumps({"last": int(args[0]) - 1}))
    else:
        raise SystemExit(f"unknown mode {mode}")


def steady(cache: Cache, prefix: str, seconds: float, ready: str) -> None:
    """Warms 20 keys, then gets and sets without pause for `seconds`, as a handler under
    load: every call's duration, every error, every wrong answer, and each set's answer
    (did the store take it?) with its time, so the test can tell when the store was used
    again."""
    for i in range(20):
        cache.set(f"{prefix}:warm:{i}", i)
    open(ready, "w").close()
    errors: list[str] = []
    wrong = 0
    calls = 0
    max_ms = 0.0
    sets: list[tuple[float, bool]] = []
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        n += 1
        for step in range(3):
            t0 = time.monotonic()
            try:
                if step == 0:
                    i = n % 20
                    v = cache.get(f"{prefix}:warm:{i}", lambda i=i: i)
                    wrong += v != i
                elif step == 1:
                    stored = cache.set(f"{prefix}:w:{os.getpid()}:{n % 50}", n)
                    sets.append((time.time(), bool(stored)))
                else:
                    k = f"{prefix}:cold:{os.getpid()}:{n}"
                    wrong += cache.get(k, lambda: n) != n
            except Exception as e:  # noqa: BLE001 - reported to the test
                errors.append(f"{type(e).__name__}: {e}")
            max_ms = max(max_ms, (time.monotonic() - t0) * 1000)
            calls += 1
        time.sleep(0.002)
    print(json.dumps({
        "calls": calls, "errors": errors[:10], "error_count": len(errors), "wrong": wrong,
        "max_ms": max_ms, "sets": sets, "stats": cache.stats().as_dict(),
    }))


if __name__ == "__main__":
    main()
