"""flightcache.http against a real local server, through each of the three adapters:
httpx.Client (CacheTransport), httpx.AsyncClient (AsyncCacheTransport) and a requests Session
(CacheAdapter). Time moves on the cache's ManualClock."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterator, Optional

import httpx
import pytest
import requests

from flightcache import Cache, InvalidArgumentError, ManualClock, WrongTypeError
from flightcache.http import AsyncCacheTransport, CacheAdapter, CacheTransport
from upstream import Req, Upstream, slow

Headers = Optional[dict[str, str]]
Got = tuple[int, str, bytes]  # status, X-Cache, body


class Client:
    """One adapter, driven the same way in every test."""

    def __init__(self, kind: str, cache: Cache, **options: Any) -> None:
        self.kind = kind
        if kind == "httpx":
            self.transport: Any = CacheTransport(cache, **options)
            self.client = httpx.Client(transport=self.transport)
        elif kind == "httpx-async":
            self.transport = AsyncCacheTransport(cache, **options)
        else:
            self.transport = CacheAdapter(cache, **options)
            self.session = requests.Session()
            self.session.mount("http://", self.transport)

    async def _aget(self, url: str, headers: Headers, method: str) -> Got:
        async with httpx.AsyncClient(transport=self.transport) as c:
            r = await c.request(method, url, headers=headers)
            return r.status_code, r.headers["x-cache"], r.content

    async def amany(self, url: str, n: int, headers: Headers = None) -> list[Got]:
        async with httpx.AsyncClient(transport=self.transport) as c:
            rs = await asyncio.gather(*(c.get(url, headers=headers) for _ in range(n)))
            return [(r.status_code, r.headers["x-cache"], r.content) for r in rs]

    def get(self, url: str, headers: Headers = None, method: str = "GET") -> Got:
        if self.kind == "httpx":
            r = self.client.request(method, url, headers=headers)
            return r.status_code, r.headers["x-cache"], r.content
        if self.kind == "httpx-async":
            return asyncio.run(self._aget(url, headers, method))
        rr = self.session.request(method, url, headers=headers)
        return rr.status_code, rr.headers["X-Cache"], rr.content

    def many(self, url: str, n: int, headers: Headers = None) -> list[Got]:
        """n identical requests at once: threads, or asyncio tasks for the async client."""
        if self.kind == "httpx-async":
            return asyncio.run(self.amany(url, n, headers))
        barrier = threading.Barrier(n)

        def one(_: int) -> Got:
            barrier.wait()
            return self.get(url, headers)

        with ThreadPoolExecutor(max_workers=n) as pool:
            return list(pool.map(one, range(n)))

    def clear(self, url: Optional[str] = None) -> None:
        self.transport.clear(url)


KINDS = ["httpx", "httpx-async", "requests"]


@pytest.fixture
def up() -> Iterator[Upstream]:
    with Upstream() as u:
        yield u


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def cache(clock: ManualClock) -> Cache:
    return Cache(clock=clock)


@pytest.fixture(params=KINDS)
def make(request: Any, cache: Cache) -> Callable[..., Client]:
    return lambda **options: Client(request.param, cache, **options)


def ok(body: bytes = b"hello", **headers: str) -> Callable[[Req], tuple[int, dict[str, str], bytes]]:
    h = {"Content-Type": "text/plain"}
    h.update({k.replace("_", "-"): v for k, v in headers.items()})
    return lambda _req: (200, h, body)


def test_a_2xx_get_is_stored_and_then_a_hit(up: Upstream, make: Callable[..., Client]) -> None:
    up.route("/a", ok())
    c = make()
    assert c.get(up.url("/a")) == (200, "MISS", b"hello")
    assert c.get(up.url("/a")) == (200, "HIT", b"hello")
    assert up.calls["/a"] == 1


def test_only_2xx_get_and_head_are_stored(up: Upstream, make: Callable[..., Client]) -> None:
    c = make()
    for status in (201, 204):
        up.route(f"/s{status}", lambda _r, s=status: (s, {}, b"" if s == 204 else b"made"))
        assert c.get(up.url(f"/s{status}"))[1] == "MISS"
        assert c.get(up.url(f"/s{status}"))[1] == "HIT"
    for status in (301, 404, 500, 503):
        up.route(f"/e{status}", lambda _r, s=status: (s, {}, b"no"))
        for _ in range(2):
            assert c.get(up.url(f"/e{status}")) == (status, "MISS", b"no")
        assert up.calls[f"/e{status}"] == 2, status
    up.route("/p", ok(b"posted"))
    assert [c.get(up.url("/p"), method="POST")[1:] for _ in range(2)] == [("MISS", b"posted")] * 2
    assert up.calls["/p"] == 2
    # HEAD has a key of its own.
    up.route("/h", ok(b"body"))
    assert c.get(up.url("/h"), method="HEAD")[:2] == (200, "MISS")
    assert c.get(up.url("/h"), method="HEAD")[:2] == (200, "HIT")
    assert c.get(up.url("/h")) == (200, "MISS", b"body")
    assert c.get(up.url("/h")) == (200, "HIT", b"body")
    assert up.calls["/h"] == 2


@pytest.mark.parametrize("respect", [False, True])
def test_no_store_and_private_are_never_stored(up: Upstream, make: Callable[..., Client], respect: bool) -> None:
    up.route("/ns", ok(Cache_Control="no-store, max-age=60"))
    up.route("/pv", ok(Cache_Control="private, max-age=60"))
    up.route("/star", ok(Vary="*"))
    c = make(respect_cache_control=respect)
    for path in ("/ns", "/pv", "/star"):
        assert [c.get(up.url(path))[1] for _ in range(2)] == ["MISS", "MISS"]
        assert up.calls[path] == 2


def test_the_key_sorts_the_query_and_keeps_the_chosen_parameters(up: Upstream, make: Callable[..., Client]) -> None:
    up.route("/q", lambda r: (200, {}, r.query.encode()))
    c = make()
    assert c.get(up.url("/q?b=2&a=1"))[1] == "MISS"
    assert c.get(up.url("/q?a=1&b=2"))[1] == "HIT"
    assert c.get(up.url("/q?a=1&b=3"))[1] == "MISS"
    assert up.calls["/q"] == 2
    up.route("/k", lambda r: (200, {}, r.query.encode()))
    k = make(key_params=["page"])
    assert k.get(up.url("/k?page=1&ts=1")) == (200, "MISS", b"page=1&ts=1")
    assert k.get(up.url("/k?ts=2&page=1")) == (200, "HIT", b"page=1&ts=1")
    assert k.get(up.url("/k?page=2&ts=1"))[1] == "MISS"
    assert up.calls["/k"] == 2


def test_vary_keeps_one_response_per_varied_header(up: Upstream, make: Callable[..., Client]) -> None:
    up.route("/v", lambda r: (200, {"Vary": "Accept"}, r.headers.get("accept", "").encode()))
    c = make()
    js, txt = {"Accept": "application/json"}, {"Accept": "text/plain"}
    assert c.get(up.url("/v"), js) == (200, "MISS", b"application/json")
    assert c.get(up.url("/v"), txt) == (200, "MISS", b"text/plain")
    assert c.get(up.url("/v"), js) == (200, "HIT", b"application/json")
    assert c.get(up.url("/v"), txt) == (200, "HIT", b"text/plain")
    assert up.calls["/v"] == 2


def test_concurrent_requests_varying_differently_get_their_own_response(up: Upstream, cache: Cache) -> None:
    # Before the first response is known, requests differing in a varied header join one
    # flight; those it does not suit ask again.
    def route(r: Req) -> tuple[int, dict[str, str], bytes]:
        time.sleep(0.2)
        return 200, {"Vary": "Accept"}, r.headers["accept"].encode()

    up.route("/vv", route)
    c = Client("httpx", cache)
    accepts = ["a/1", "a/2"] * 10
    barrier = threading.Barrier(len(accepts))

    def one(a: str) -> Got:
        barrier.wait()
        return c.get(up.url("/vv"), {"Accept": a})

    with ThreadPoolExecutor(max_workers=len(accepts)) as pool:
        got = list(pool.map(one, accepts))
    assert [g[2].decode() for g in got] == accepts
    assert up.calls["/vv"] <= 3


def test_ttl_default_and_option(up: Upstream, make: Callable[..., Client], clock: ManualClock) -> None:
    up.route("/t", ok())
    c = make()
    c.get(up.url("/t"))
    clock.advance(599_999)
    assert c.get(up.url("/t"))[1] == "HIT"
    clock.advance(1)
    assert c.get(up.url("/t"))[1] == "MISS"
    up.route("/t2", ok())
    c2 = make(ttl=1000)
    c2.get(up.url("/t2"))
    clock.advance(999)
    assert c2.get(up.url("/t2"))[1] == "HIT"
    clock.advance(1)
    assert c2.get(up.url("/t2"))[1] == "MISS"


def test_cache_control_and_expires_when_respected(up: Upstream, make: Callable[..., Client], clock: ManualClock) -> None:
    up.route("/ma", ok(Cache_Control="max-age=60"))
    up.route("/exp", ok(Date="Sun, 06 Nov 1994 08:49:37 GMT", Expires="Sun, 06 Nov 1994 08:50:07 GMT"))
    up.route("/long", ok(Cache_Control="max-age=86400"))
    up.route("/nc", ok(Cache_Control="no-cache"))
    c = make(respect_cache_control=True)
    ignoring = make()
    for path in ("/ma", "/exp", "/long", "/nc"):
        c.get(up.url(path))
    ignoring.get(up.url("/ma?x"))
    clock.advance(29_999)
    assert c.get(up.url("/exp"))[1] == "HIT"
    clock.advance(1)
    assert c.get(up.url("/exp"))[1] == "MISS"
    clock.advance(30_000 - 1)
    assert c.get(up.url("/ma"))[1] == "HIT"
    clock.advance(1)
    assert c.get(up.url("/ma"))[1] == "MISS"
    assert ignoring.get(up.url("/ma?x"))[1] == "HIT"  # max-age ignored: the 10-minute default
    assert c.get(up.url("/nc"))[1] == "MISS"  # no-cache respected: not stored
    # max_ttl (1 hour) caps a day-long max-age.
    clock.advance(3_600_000 - 60_000 - 1)
    assert c.get(up.url("/long"))[1] == "HIT"
    clock.advance(1)
    assert c.get(up.url("/long"))[1] == "MISS"


def test_key_and_entry_size_limits(up: Upstream, make: Callable[..., Client]) -> None:
    up.route("/big", ok(b"x" * 5000))
    c = make(max_value_bytes=4000)
    assert [c.get(up.url("/big"))[1] for _ in range(2)] == ["MISS", "MISS"]
    d = make()
    assert [d.get(up.url("/big"))[1] for _ in range(2)] == ["MISS", "HIT"]
    up.route("/long", ok())
    url = up.url("/long?q=" + "a" * 10_240)
    assert [d.get(url)[1] for _ in range(2)] == ["MISS", "MISS"]
    assert up.calls["/long"] == 2


def test_revalidation_is_conditional_and_a_304_refreshes_the_entry(
    up: Upstream, make: Callable[..., Client], clock: ManualClock
) -> None:
    version = {"etag": '"v1"', "body": b"one"}

    def route(r: Req) -> tuple[int, dict[str, str], bytes]:
        if r.headers.get("if-none-match") == version["etag"]:
            return 304, {"ETag": version["etag"]}, b""
        return 200, {"ETag": version["etag"], "Content-Type": "text/plain"}, version["body"]

    up.route("/r", route)
    c = make(ttl=10_000)
    assert c.get(up.url("/r")) == (200, "MISS", b"one")
    clock.advance(9_000)
    assert c.get(up.url("/r"), {"Cache-Control": "no-cache"}) == (200, "REVALIDATED", b"one")
    assert up.last("/r").headers["if-none-match"] == '"v1"'  # type: ignore[union-attr]
    clock.advance(9_000)  # 18 s after the first load: the 304 gave the entry a new TTL
    assert c.get(up.url("/r")) == (200, "HIT", b"one")
    version.update(etag='"v2"', body=b"two")
    assert c.get(up.url("/r"), {"Cache-Control": "max-age=0"}) == (200, "MISS", b"two")
    assert c.get(up.url("/r")) == (200, "HIT", b"two")
    assert up.calls["/r"] == 3


def test_last_modified_revalidation_and_request_max_age(up: Upstream, make: Callable[..., Client], clock: ManualClock) -> None:
    lm = "Sun, 06 Nov 1994 08:49:37 GMT"
    up.route("/lm", lambda r: (304, {}, b"") if r.headers.get("if-modified-since") == lm else (200, {"Last-Modified": lm}, b"lm"))
    c = make()
    c.get(up.url("/lm"))
    clock.advance(5_000)
    assert c.get(up.url("/lm"), {"Cache-Control": "max-age=10"}) == (200, "HIT", b"lm")
    assert c.get(up.url("/lm"), {"Cache-Control": "max-age=4"}) == (200, "REVALIDATED", b"lm")
    assert c.get(up.url("/lm"), {"Pragma": "no-cache"}) == (200, "REVALIDATED", b"lm")
    assert up.calls["/lm"] == 3
    up.route("/nostore", ok(b"ns"))
    assert [c.get(up.url("/nostore"), {"Cache-Control": "no-store"})[1] for _ in range(2)] == ["MISS", "MISS"]


def test_a_failed_revalidation_serves_the_stored_response_as_stale(up: Upstream, make: Callable[..., Client]) -> None:
    state = {"down": False}
    up.route("/st", lambda r: (503, {}, b"down") if state["down"] else (200, {"ETag": '"e"'}, b"kept"))
    c = make()
    assert c.get(up.url("/st")) == (200, "MISS", b"kept")
    state["down"] = True
    assert c.get(up.url("/st"), {"Cache-Control": "no-cache"}) == (200, "STALE", b"kept")
    assert c.get(up.url("/st")) == (200, "HIT", b"kept")
    # A 4xx is an answer, not a failure: it is passed on and the entry stays.
    up.route("/st", lambda r: (404, {}, b"gone"))
    assert c.get(up.url("/st"), {"Cache-Control": "no-cache"}) == (404, "MISS", b"gone")


def test_a_failed_revalidation_with_no_answer_serves_stale(cache: Cache) -> None:
    with Upstream() as up:
        up.route("/gone", ok(b"before"))
        url = up.url("/gone")
        c = Client("httpx", cache)
        assert c.get(url) == (200, "MISS", b"before")
    # The server is stopped: the request cannot connect.
    assert c.get(url, {"Cache-Control": "no-cache"}) == (200, "STALE", b"before")
    with pytest.raises(httpx.ConnectError):
        c.get(url + "?other")


def test_100_concurrent_identical_requests_make_one_upstream_call(up: Upstream, make: Callable[..., Client]) -> None:
    up.route("/sf", slow(0.3, (200, {}, b"once")))
    c = make()
    got = c.many(up.url("/sf"), 100)
    assert up.calls["/sf"] == 1
    assert {g[2] for g in got} == {b"once"}
    assert sorted({g[1] for g in got}) == ["MISS"]
    # and 100 concurrent re-validations make one conditional request
    up.route("/sf", slow(0.3, (200, {}, b"again")))
    got = c.many(up.url("/sf"), 100, {"Cache-Control": "no-cache"})
    assert up.calls["/sf"] == 2
    assert {g[2] for g in got} == {b"again"}


def test_every_response_says_how_it_was_served(up: Upstream, make: Callable[..., Client]) -> None:
    up.route("/x", ok())
    c = make()
    labels = [c.get(up.url("/x"))[1], c.get(up.url("/x"))[1], c.get(up.url("/x"), method="POST")[1]]
    assert labels == ["MISS", "HIT", "MISS"]


def test_clear_one_endpoint_or_one_origin(up: Upstream, make: Callable[..., Client], cache: Cache) -> None:
    up.route("/one", ok())
    up.route("/two", ok())
    c = make()
    for p in ("/one", "/one?x=1", "/two"):
        c.get(up.url(p))
    c.clear(up.url("/one"))
    assert [c.get(up.url(p))[1] for p in ("/one", "/one?x=1", "/two")] == ["MISS", "MISS", "HIT"]
    c.clear(up.url(""))
    assert [c.get(up.url(p))[1] for p in ("/one", "/two")] == ["MISS", "MISS"]
    cache.set("mine", 1)
    c.clear()
    assert c.get(up.url("/two"))[1] == "MISS"
    assert cache.get("mine") == 1  # only the helper's namespace is cleared


def test_a_stored_response_is_plain_data(up: Upstream, cache: Cache) -> None:
    up.route("/plain", ok(b'{"a":1}', ETag='"p"'))
    c = Client("httpx", cache)
    c.get(up.url("/plain?z=1&y=2"))
    (key,) = cache.namespace("http").keys()
    assert key == f"http%3A//127.0.0.1%3A{up.port}:/plain:GET ?y=2&z=1"
    origin, path, k = key.split(":", 2)
    record = cache.namespace("http").namespace(origin).namespace(path).get(k)
    assert set(record) == {"status", "headers", "body", "vary"}
    assert record["status"] == 200 and record["body"] == b'{"a":1}' and record["vary"] == []
    assert ["etag", '"p"'] in record["headers"]
    assert all(isinstance(p, list) and len(p) == 2 for p in record["headers"])
    assert not any(n in ("content-length", "x-cache") for n, _ in record["headers"])


def test_bad_options_say_what_is_wrong(cache: Cache) -> None:
    with pytest.raises(InvalidArgumentError, match="ttl"):
        CacheTransport(cache, ttl=-1)
    with pytest.raises(InvalidArgumentError, match=r"ttl \(7200000 ms\) is over max_ttl"):
        CacheAdapter(cache, ttl=7_200_000)
    with pytest.raises(WrongTypeError, match="key_params must be a list of names"):
        AsyncCacheTransport(cache, key_params="page")
    with pytest.raises(WrongTypeError, match="max_value_bytes must be a number, not str"):
        CacheTransport(cache, max_value_bytes="10")
    with pytest.raises(WrongTypeError, match="respect_cache_control must be a bool"):
        CacheTransport(cache, respect_cache_control=1)
    with pytest.raises(TypeError, match="unexpected keyword"):
        CacheTransport(cache, tll=5)
    with pytest.raises(WrongTypeError, match="max_key_bytes must be a whole number"):
        CacheTransport(cache, max_key_bytes=1.5)


def test_a_401_drops_the_token_held_by_cache_token(up: Upstream, make: Callable[..., Client], cache: Cache) -> None:
    issued: list[str] = []

    def fetch_token() -> dict[str, Any]:
        issued.append(f"t{len(issued) + 1}")
        return {"access_token": issued[-1], "expires_in": 3600}

    valid = {"t2"}
    up.route("/me", lambda r: (200, {}, b"me") if r.headers.get("authorization", "")[7:] in valid else (401, {}, b"expired"))
    c = make()
    token = cache.token("api", fetch_token)
    assert token == "t1"
    assert c.get(up.url("/me"), {"Authorization": f"Bearer {token}"})[:2] == (401, "MISS")
    token = cache.token("api", fetch_token)
    assert token == "t2" and issued == ["t1", "t2"]
    assert c.get(up.url("/me"), {"Authorization": f"Bearer {token}"}) == (200, "MISS", b"me")
    assert cache.token("api", fetch_token) == "t2"
    # Off: the token stays.
    off = make(drop_token_on_401=False)
    valid.clear()
    assert off.get(up.url("/me?off"), {"Authorization": "Bearer t2"})[0] == 401
    assert cache.token("api", fetch_token) == "t2"
    # A POST's 401 drops it too (the request bypasses the cache).
    assert c.get(up.url("/me"), {"Authorization": "Bearer t2"}, method="POST")[0] == 401
    assert cache.token("api", fetch_token) == "t3"


def test_python_and_node_share_stored_responses_through_sqlite(up: Upstream, tmp_path: Any) -> None:
    """A response Python stored is a hit in a Node process on the same SQLite file, and the
    other way round: one upstream call each."""
    import json
    import os
    import subprocess
    from pathlib import Path

    up.route("/from-python", ok(b"stored by python", ETag='"py"'))
    up.route("/from-node", ok(b"stored by node"))
    store = f"sqlite://{tmp_path}/shared.db"
    root = Path(__file__).resolve().parents[3]
    modules = tmp_path / "node_modules"
    modules.mkdir()
    (modules / "flightcache").symlink_to(root / "bindings-node")
    node_script = """
      const { Cache } = require('flightcache')
      const { wrapFetch } = require('flightcache/http')
      const f = wrapFetch(fetch, new Cache({ store: process.argv[1] }))
      ;(async () => {
        for (const url of process.argv.slice(2)) {
          const r = await f(url)
          console.log(JSON.stringify([r.status, r.headers.get('x-cache'), await r.text()]))
        }
      })()
    """
    py_cache = Cache(store=store)
    c = Client("httpx", py_cache)
    assert c.get(up.url("/from-python"))[:2] == (200, "MISS")
    out = subprocess.run(
        ["node", "-e", node_script, store, up.url("/from-python"), up.url("/from-node"),
         up.url("/from-node")],
        capture_output=True, text=True, timeout=60, env={**os.environ, "NODE_PATH": str(modules)},
    )
    assert out.returncode == 0, out.stderr
    assert [json.loads(line) for line in out.stdout.splitlines()] == [
        [200, "HIT", "stored by python"],
        [200, "MISS", "stored by node"],
        [200, "HIT", "stored by node"],
    ]
    assert c.get(up.url("/from-node")) == (200, "HIT", b"stored by node")
    assert up.calls["/from-python"] == 1 and up.calls["/from-node"] == 1
