"""An integration handler that calls a third-party API with an access token, run the way a
platform runs it: many invocations at once, one cache. `make demo` prints what a user sees.

The handler caches the two things such handlers cache: the API's access token
(``cache.token``) and its responses (``flightcache.http.CacheTransport`` under httpx). The
"third-party API" is a small server on a free loopback port started by this script, so the
example runs without a network.

In your project: ``pip install "./bindings-python[http]"``, then
``from flightcache import Cache`` and ``from flightcache.http import CacheTransport``.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from flightcache import Cache, ManualClock
from flightcache.http import AsyncCacheTransport, CacheTransport

# ------------------------------------------------------------ the "third-party API"

calls: Counter[str] = Counter()
valid_tokens: set[str] = set()


class Api(BaseHTTPRequestHandler):
    """POST /oauth/token issues a token for an hour; GET /v1/items/<id> needs one, takes 50 ms,
    answers with an ETag, and 304 to a matching If-None-Match."""

    def log_message(self, *args: object) -> None:
        pass

    def answer(self, status: int, body: dict[str, Any] | None = None, **headers: str) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k.replace("_", "-"), v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        calls["login"] += 1
        token = f"token-{calls['login']}"
        valid_tokens.add(token)
        self.answer(200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600})

    def do_GET(self) -> None:
        calls["GET " + self.path] += 1
        if self.headers.get("Authorization", "")[7:] not in valid_tokens:
            return self.answer(401, {"error": "invalid_token"})
        time.sleep(0.05)
        etag = '"v1"'
        if self.headers.get("If-None-Match") == etag:
            return self.answer(304, ETag=etag)
        item = self.path.rsplit("/", 1)[1]
        self.answer(200, {"id": item, "name": f"item {item}"}, ETag=etag, Content_Type="application/json")


server = ThreadingHTTPServer(("127.0.0.1", 0), Api)
API = f"http://127.0.0.1:{server.server_address[1]}"

# ------------------------------------------------------------ the handler


def login() -> dict[str, Any]:
    """The API's token endpoint: an OAuth token response with expires_in."""
    return dict(httpx.post(f"{API}/oauth/token").json())


def handler(payload: dict[str, Any], cache: Cache, client: httpx.Client) -> dict[str, Any]:
    """The handler as the platform documents it, for a thread-based runtime."""
    token = cache.token("api", login)  # fetched once per lifetime, less 30 s
    r = client.get(f"{API}/v1/items/{payload['item']}", headers={"Authorization": f"Bearer {token}"})
    return {"status": r.status_code, "body": r.json(), "cached": r.headers["x-cache"]}


async def async_handler(payload: dict[str, Any], cache: Cache, client: httpx.AsyncClient) -> dict[str, Any]:
    """The same handler for an asyncio runtime."""
    token = await cache.atoken("api", login)
    r = await client.get(f"{API}/v1/items/{payload['item']}", headers={"Authorization": f"Bearer {token}"})
    return {"status": r.status_code, "body": r.json(), "cached": r.headers["x-cache"]}


def main() -> None:
    threading.Thread(target=server.serve_forever, daemon=True).start()
    clock = ManualClock()  # lets the demo show expiry without waiting ten minutes
    cache = Cache(max_entries=10_000, clock=clock)
    transport = CacheTransport(cache)  # responses kept 10 minutes (the default ttl)
    client = httpx.Client(transport=transport)

    def invoke(n: int, item: str = "42") -> Counter[str]:
        with ThreadPoolExecutor(max_workers=32) as pool:
            results = list(pool.map(lambda _: handler({"item": item}, cache, client), range(n)))
        return Counter(f"{r['status']} {r['cached']}" for r in results)

    print("1. 100 concurrent invocations, nothing cached yet")
    print(f"   responses: {dict(invoke(100))}; login ran {calls['login']} time, "
          f"the API got {calls['GET /v1/items/42']} request")

    print("2. 100 more invocations: token and response from the cache")
    print(f"   responses: {dict(invoke(100))}; API requests so far: {calls['GET /v1/items/42']}")

    print("3. a caller asks for a fresh copy (Cache-Control: no-cache): a conditional request")
    r = client.get(f"{API}/v1/items/42", headers={"Authorization": f"Bearer {cache.token('api', login)}",
                                                  "Cache-Control": "no-cache"})
    print(f"   {r.status_code} {r.headers['x-cache']} (the API answered 304; the stored body was served)")

    print("4. the API revokes the token: a 401 drops it, the next invocation logs in again")
    valid_tokens.clear()
    first = handler({"item": "7"}, cache, client)
    second = handler({"item": "7"}, cache, client)
    print(f"   {first['status']} {first['cached']}, then {second['status']} {second['cached']}; "
          f"login ran {calls['login']} times")

    print("5. eleven minutes later the stored response has expired (the token has not)")
    clock.advance(11 * 60 * 1000)
    print(f"   responses: {dict(invoke(10))}; login ran {calls['login']} times")

    print("6. asyncio: 100 concurrent invocations of another item")

    async def many() -> list[dict[str, Any]]:
        async with httpx.AsyncClient(transport=AsyncCacheTransport(cache)) as aclient:
            return await asyncio.gather(*(async_handler({"item": "9"}, cache, aclient) for _ in range(100)))

    results = asyncio.run(many())
    print(f"   responses: {dict(Counter(r['status'] for r in results))}; "
          f"the API got {calls['GET /v1/items/9']} request for item 9")

    print("7. clearing the endpoint's entries")
    transport.clear(f"{API}/v1/items/42")
    print(f"   next request: {handler({'item': '42'}, cache, client)['cached']}")
    s = cache.stats()
    print(f"stats: hits={s.hits} misses={s.misses} loads={s.loads} entries={s.entries}")
    server.shutdown()


if __name__ == "__main__":
    main()
