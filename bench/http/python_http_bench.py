"""flightcache.http against hishel and requests-cache, in one run (`make http-bench-python`).

1. A cached response served by each helper: ns per request through the client (httpx.Client
   or a requests Session), median of interleaved repetitions, next to the client with no
   cache at all asking a local server (the floor a cache saves you from).
2. Upstream calls when 100 threads ask at once for the same URL whose server takes 200 ms.

The server is a local loopback http.server on a free port, started and stopped here.
No number here is asserted by a test.
"""

from __future__ import annotations

import argparse
import gc
import sqlite3
import statistics
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable

import hishel
import hishel.httpx
import httpx
import requests
import requests_cache

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "http" / "python"))

from flightcache import Cache  # noqa: E402
from flightcache.http import CacheAdapter, CacheTransport  # noqa: E402

BODY = b'{"id": 42, "name": "item 42", "tags": ["a", "b", "c"]}' * 4
calls: Counter[str] = Counter()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body in one write: two small writes on a kept-alive connection wait for a
    # delayed ACK (40 ms), which would make the uncached floor meaningless.
    wbufsize = 1 << 16

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        calls[self.path] += 1
        if self.path.startswith("/slow"):
            time.sleep(0.2)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "public, max-age=600")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)


class Server(ThreadingHTTPServer):
    # 100 clients connect at once: the default backlog of 5 would make them retry their SYNs
    # for seconds, and the anchors' upstream counts would time out instead of counting.
    request_queue_size = 256
    daemon_threads = True


def clients() -> dict[str, Callable[[str], Any]]:
    """name -> get(url), each with a fresh cache."""
    fc_httpx = httpx.Client(transport=CacheTransport(Cache()))
    hishel_httpx = httpx.Client(
        transport=hishel.httpx.CacheTransport(
            next_transport=httpx.HTTPTransport(),
            storage=hishel.SqliteStorage(connection=sqlite3.connect(":memory:", check_same_thread=False)),
        )
    )
    fc_requests = requests.Session()
    fc_requests.mount("http://", CacheAdapter(Cache()))
    rc = requests_cache.CachedSession(backend="memory")
    plain_httpx = httpx.Client()
    plain_requests = requests.Session()
    return {
        "flightcache CacheTransport (httpx)": fc_httpx.get,
        "hishel CacheTransport (httpx)": hishel_httpx.get,
        "flightcache CacheAdapter (requests)": fc_requests.get,
        "requests-cache CachedSession (memory)": rc.get,
        "httpx, no cache (local server)": plain_httpx.get,
        "requests, no cache (local server)": plain_requests.get,
    }


def time_hits(get: Callable[[str], Any], url: str, n: int) -> float:
    gc.collect()
    gc.disable()
    try:
        t = time.perf_counter_ns()
        for _ in range(n):
            get(url)
        return (time.perf_counter_ns() - t) / n
    finally:
        gc.enable()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n, reps = (200, 3) if args.quick else (2000, 7)
    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        cs = clients()
        url = base + "/item?id=42"
        for name, get in cs.items():
            before = calls["/item?id=42"]
            for _ in range(3):
                r = get(url)
                assert r.status_code == 200 and r.content == BODY, name
            if "no cache" not in name:
                assert calls["/item?id=42"] == before + 1, f"{name} did not cache the response"
        samples: dict[str, list[float]] = {name: [] for name in cs}
        for _ in range(reps):  # interleaved, so that drift hits every library alike
            for name, get in cs.items():
                samples[name].append(time_hits(get, url, n))
        med = {name: statistics.median(s) for name, s in samples.items()}

        print(f"\nA cached response served through the client ({n} requests x {reps} repetitions, median ns/request)")
        for name, v in med.items():
            print(f"  {name:40s} {v:12,.0f}")
        print("\nRatios (flightcache / anchor; below 1.0 is faster)")
        for ours, anchor in [
            ("flightcache CacheTransport (httpx)", "hishel CacheTransport (httpx)"),
            ("flightcache CacheAdapter (requests)", "requests-cache CachedSession (memory)"),
        ]:
            print(f"  {ours} {med[ours]:,.0f} / {anchor} {med[anchor]:,.0f} = {med[ours] / med[anchor]:.2f}x")

        print("\nUpstream calls for 100 concurrent identical requests (threads; the server takes 200 ms)")
        for i, (name, get) in enumerate(clients().items()):
            if "no cache" in name:
                continue
            path = f"/slow{i}"
            barrier = threading.Barrier(100)

            def one(_: int, get: Callable[[str], Any] = get, path: str = path) -> int:
                barrier.wait()
                return int(get(base + path).status_code)

            with ThreadPoolExecutor(max_workers=100) as pool:
                statuses = set(pool.map(one, range(100)))
            print(f"  {name:40s} {calls[path]:4d} upstream call(s) (statuses {sorted(statuses)})")
    finally:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    main()
