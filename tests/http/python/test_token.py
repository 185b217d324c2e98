"""cache.token / cache.atoken against a real local token server issuing expires_in, with time
on the cache's ManualClock."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterator

import httpx
import pytest

from flightcache import Cache, InvalidArgumentError, ManualClock, WrongTypeError
from upstream import Req, Upstream


@pytest.fixture
def server() -> Iterator[Upstream]:
    """POST /token issues t1, t2, ... valid for 3600 s, after 50 ms of work."""
    with Upstream() as up:
        issued = [0]
        lock = threading.Lock()

        def token(_r: Req) -> tuple[int, dict[str, str], bytes]:
            time.sleep(0.05)
            with lock:
                issued[0] += 1
                n = issued[0]
            body = {"access_token": f"t{n}", "token_type": "Bearer", "expires_in": 3600}
            return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

        up.route("/token", token)
        yield up


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def cache(clock: ManualClock) -> Cache:
    return Cache(clock=clock)


def test_fetched_once_per_lifetime_less_the_skew(server: Upstream, cache: Cache, clock: ManualClock) -> None:
    def fetch() -> dict[str, Any]:
        return dict(httpx.post(server.url("/token")).json())

    assert [cache.token("api", fetch, refresh_ahead=None) for _ in range(3)] == ["t1"] * 3
    assert server.calls["/token"] == 1
    clock.advance(3_600_000 - 30_000 - 1)
    assert cache.token("api", fetch, refresh_ahead=None) == "t1"
    clock.advance(1)
    assert cache.token("api", fetch, refresh_ahead=None) == "t2"
    assert server.calls["/token"] == 2
    # Another skew: kept 3600 s less 5 min.
    assert cache.token("other", fetch, skew=300_000) == "t3"
    assert cache.namespace("token").remaining_ttl("other") == 3_300_000


def test_refreshed_ahead_of_expiry_in_the_background(
    server: Upstream, cache: Cache, clock: ManualClock
) -> None:
    def fetch() -> dict[str, Any]:
        return dict(httpx.post(server.url("/token")).json())

    assert cache.token("api", fetch) == "t1"
    kept = 3_600_000 - 30_000
    clock.advance(int(kept * 0.8) - 1)
    assert cache.token("api", fetch) == "t1"
    assert server.calls["/token"] == 1
    clock.advance(1)
    # Past 80% of the time it is kept: this caller gets t1 at once; t2 is fetched meanwhile.
    assert cache.token("api", fetch) == "t1"
    deadline = time.monotonic() + 10
    while cache.token("api", fetch) != "t2":
        assert time.monotonic() < deadline, "the token was never refreshed"
        time.sleep(0.01)
    assert server.calls["/token"] == 2
    assert cache.namespace("token").remaining_ttl("api") == kept

    async def afetch() -> dict[str, Any]:
        async with httpx.AsyncClient() as c:
            return dict((await c.post(server.url("/token"))).json())

    async def main() -> None:
        clock.advance(int(kept * 0.8))
        assert await cache.atoken("api", afetch) == "t2"
        for _ in range(1000):
            if await cache.atoken("api", afetch) == "t3":
                return
            await asyncio.sleep(0.01)
        raise AssertionError("the token was never refreshed by atoken")

    asyncio.run(main())
    assert server.calls["/token"] == 3


def test_concurrent_callers_share_one_fetch(server: Upstream, cache: Cache, clock: ManualClock) -> None:
    def fetch() -> dict[str, Any]:
        return dict(httpx.post(server.url("/token")).json())

    barrier = threading.Barrier(50)

    def one(_: int) -> str:
        barrier.wait()
        return cache.token("api", fetch)

    with ThreadPoolExecutor(max_workers=50) as pool:
        assert set(pool.map(one, range(50))) == {"t1"}
    assert server.calls["/token"] == 1

    async def afetch() -> dict[str, Any]:
        async with httpx.AsyncClient() as c:
            return dict((await c.post(server.url("/token"))).json())

    async def many() -> list[str]:
        return await asyncio.gather(*(cache.atoken("async", afetch) for _ in range(100)))

    assert set(asyncio.run(many())) == {"t2"}
    assert server.calls["/token"] == 2
    clock.advance(3_570_000)

    async def sync_fetcher_in_atoken() -> str:
        return await cache.atoken("async", lambda: dict(httpx.post(server.url("/token")).json()))

    assert asyncio.run(sync_fetcher_in_atoken()) == "t3"


def test_a_401_through_the_http_helper_fetches_anew(server: Upstream, cache: Cache) -> None:
    from flightcache.http import CacheTransport

    def fetch() -> dict[str, Any]:
        return dict(httpx.post(server.url("/token")).json())

    server.route("/api", lambda r: (401, {}, b"") if r.headers.get("authorization") == "Bearer t1" else (200, {}, b"ok"))
    client = httpx.Client(transport=CacheTransport(cache))

    def call() -> httpx.Response:
        return client.get(server.url("/api"), headers={"Authorization": f"Bearer {cache.token('api', fetch)}"})

    assert call().status_code == 401
    assert call().status_code == 200
    assert server.calls["/token"] == 2


def _jwt(claims: dict[str, Any]) -> str:
    def b64(b: bytes) -> str:
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

    header = b64(json.dumps({"alg": "HS256"}).encode())
    return f"{header}.{b64(json.dumps(claims).encode())}.signature"


def test_a_jwt_lives_until_its_exp(cache: Cache) -> None:
    exp = int(time.time()) + 120
    token = _jwt({"sub": "me", "exp": exp})
    assert cache.token("jwt", lambda: token) == token
    remaining = cache.namespace("token").remaining_ttl("jwt")
    assert remaining is not None and 88_000 <= remaining <= 90_000  # 120 s less 30 s, to the second
    # expires_at, as epoch seconds or RFC 3339
    at = int(time.time()) + 600
    assert cache.token("at", lambda: {"access_token": "a", "expires_at": at}, skew=0) == "a"
    remaining = cache.namespace("token").remaining_ttl("at")
    assert remaining is not None and 598_000 <= remaining <= 600_000


def test_bad_input_says_what_is_wrong(cache: Cache) -> None:
    with pytest.raises(InvalidArgumentError, match="no access_token"):
        cache.token("a", lambda: {"token_type": "Bearer", "expires_in": 60})
    with pytest.raises(InvalidArgumentError, match="lifetime is unknown"):
        cache.token("a", lambda: {"access_token": "opaque"})
    with pytest.raises(InvalidArgumentError, match="not a JWT"):
        cache.token("a", lambda: "opaque")
    with pytest.raises(WrongTypeError, match="not int"):
        cache.token("a", lambda: 5)
    with pytest.raises(WrongTypeError, match="token name must be a str"):
        cache.token(5, lambda: "x")  # type: ignore[arg-type]
    with pytest.raises(WrongTypeError, match="fetch_token must be a function"):
        cache.token("a", "x")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="skew"):
        cache.token("a", lambda: "x", skew=-1)
    with pytest.raises(WrongTypeError, match="atoken"):
        cache.token("a", lambda: asyncio.sleep(0))
    assert "a" not in cache.namespace("token")
    # A fetcher's own error reaches the caller unchanged, and nothing is kept.
    boom = ConnectionError("token server down")

    def failing() -> str:
        raise boom

    with pytest.raises(ConnectionError) as e:
        cache.token("a", failing)
    assert e.value is boom
