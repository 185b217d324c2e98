"""An integration handler that caches its API token, run the way a platform runs it: many
invocations at once, threads and asyncio, one cache. `make demo` prints what a user sees.

In your project: ``from flightcache import Cache, ManualClock`` after ``pip install ./bindings-python``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flightcache import Cache, ManualClock

authentications = 0
_lock = threading.Lock()


def authenticate() -> dict[str, Any]:
    """Stands in for the third-party login: 50 ms of network, then a fresh token."""
    global authentications
    with _lock:
        authentications += 1
        n = authentications
    time.sleep(0.05)
    return {"token": f"token-{n}", "expires_in": 3600}


async def authenticate_async() -> dict[str, Any]:
    global authentications
    authentications += 1
    n = authentications
    await asyncio.sleep(0.05)
    return {"token": f"token-{n}", "expires_in": 3600}


def handler(payload: dict[str, Any], cache: Cache) -> dict[str, Any]:
    """The handler as the platform documents it, for a thread-based runtime."""
    token = cache.get("token", get_value=lambda: authenticate()["token"], ttl=60 * 1000)
    return {"status": 200, "body": f"called {payload['endpoint']} with {token}"}


async def async_handler(payload: dict[str, Any], cache: Cache) -> dict[str, Any]:
    """The same handler for an asyncio runtime."""

    async def login() -> str:
        return str((await authenticate_async())["token"])

    token = await cache.aget("token", get_value=login, ttl=60 * 1000)
    return {"status": 200, "body": f"called {payload['endpoint']} with {token}"}


def token_of(response: dict[str, Any]) -> str:
    return str(response["body"].split(" with ")[1])


def main() -> None:
    clock = ManualClock()  # lets the demo show expiry without waiting a minute
    cache = Cache(max_entries=10_000, ttl=7 * 24 * 3600 * 1000, clock=clock)

    def invoke(n: int) -> list[dict[str, Any]]:
        with ThreadPoolExecutor(max_workers=32) as pool:
            return list(pool.map(lambda i: handler({"endpoint": f"/items/{i}"}, cache), range(n)))

    print("1. 100 concurrent invocations on 32 threads, the token not cached yet")
    responses = invoke(100)
    print(f"   authenticate() ran {authentications} time; every response used "
          f"{', '.join(sorted({token_of(r) for r in responses}))}")

    print("2. 100 more invocations: all hits")
    before = cache.stats()
    responses = invoke(100)
    after = cache.stats()
    print(f"   hits +{after.hits - before.hits}, misses +{after.misses - before.misses}, "
          f"loads +{after.loads - before.loads}; token {token_of(responses[0])}, "
          f"expires in {(cache.remaining_ttl('token') or 0) / 1000:.0f} s")

    print("3. one minute later the token has expired")
    clock.advance(60 * 1000)
    print(f"   'token' in cache = {'token' in cache}")
    started = authentications

    async def many() -> list[dict[str, Any]]:
        return await asyncio.gather(
            *(async_handler({"endpoint": f"/items/{i}"}, cache) for i in range(100))
        )

    responses = asyncio.run(many())
    print(f"   100 concurrent asyncio invocations: authenticate() ran {authentications - started} time, "
          f"all got {', '.join(sorted({token_of(r) for r in responses}))}")

    print("4. a token whose lifetime comes with it: ttl as a function of the value")
    cache.delete("token")
    login = cache.get("login", get_value=authenticate, ttl=lambda d: d["expires_in"] * 1000)
    print(f"   {login['token']} expires in {(cache.remaining_ttl('login') or 0) / 1000:.0f} s")

    print("5. set and delete, as documented")
    print(f"   cache.set('token', 'manual', ttl=1000) -> {cache.set('token', 'manual', ttl=1000)}")
    print(f"   cache.get('token') -> {cache.get('token')}")
    print(f"   cache.delete('token') -> {cache.delete('token')}")

    print("6. a failing login: one call, every caller sees the same error, nothing cached")
    calls = 0

    def broken() -> str:
        nonlocal calls
        calls += 1
        time.sleep(0.2)
        raise ConnectionError("login service unavailable")

    errors: list[BaseException] = []
    barrier = threading.Barrier(20)

    def call() -> None:
        barrier.wait()
        try:
            cache.get("token", get_value=broken)
        except ConnectionError as e:
            errors.append(e)

    threads = [threading.Thread(target=call) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"   broken() ran {calls} time; {len(errors)} callers got the same exception: "
          f"{len({id(e) for e in errors}) == 1}; 'token' in cache = {'token' in cache}")

    s = cache.stats()
    print(f"stats: hits={s.hits} misses={s.misses} loads={s.loads} load_errors={s.load_errors} "
          f"entries={s.entries}")


if __name__ == "__main__":
    main()
