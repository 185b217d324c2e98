"""A Python process of the store tests: one cache on a shared store, one job, its result
printed as one JSON line. Run by test_*.py (never by hand).

    worker.py URL load KEY CALLERS LOG SLEEP_MS START_AT_MS
    worker.py URL hold KEY LOG READY
    worker.py URL get KEY
    worker.py URL set KEY VALUE_JSON [TTL_MS]
    worker.py URL echo KEY_FROM KEY_TO       (reads a value and writes it back under KEY_TO)
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
    cache = Cache(store=url)
    if mode == "load":
        callers, log, sleep_ms, start_at = int(args[0]), args[1], int(args[2]), int(args[3])

        def loader() -> str:
            with open(log, "a") as f:
                f.write(f"python {os.getpid()}\n")
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
        print(json.dumps({"results": results, "stats": cache.stats().as_dict()}))
    elif mode == "hold":
        log, ready = args

        def never() -> str:
            with open(log, "a") as f:
                f.write(f"python {os.getpid()}\n")
            open(ready, "w").close()
            time.sleep(3600)
            return "never"

        cache.get(key, never)
    elif mode == "get":
        print(json.dumps({"value": encode(cache.get(key)), "has": key in cache}))
    elif mode == "set":
        ttl = int(args[1]) if len(args) > 1 else None
        print(json.dumps({"stored": cache.set(key, decode(json.loads(args[0])), ttl)}))
    elif mode == "echo":
        v = cache.get(key)
        print(json.dumps({"stored": cache.set(args[0], v), "value": encode(v)}))
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
