"""HTTP response caching on a flightcache ``Cache``, for httpx and requests.

    import httpx, requests
    from flightcache import Cache
    from flightcache.http import CacheTransport, AsyncCacheTransport, CacheAdapter

    cache = Cache()
    client = httpx.Client(transport=CacheTransport(cache, ttl=60_000))
    aclient = httpx.AsyncClient(transport=AsyncCacheTransport(cache))
    session = requests.Session()
    session.mount("https://", CacheAdapter(cache, key_params=["page"]))

Every rule (which responses are stored, for how long, under which key, re-validation) is the
core's (``flightcache::http``); this module only moves requests and responses between the
clients and the cache. Identical concurrent requests make one upstream call: the cache's
single flight. Each response carries ``X-Cache``: ``HIT`` (served from the cache), ``MISS``
(from upstream), ``REVALIDATED`` (the upstream answered a conditional request with 304) or
``STALE`` (a re-validation failed and the stored response was served).

A stored response is plain data (``{"status", "headers": [[name, value]], "body": bytes,
"vary"}``, the body decoded), kept in the cache's ``http`` namespace, then one namespace per
origin and one per path: ``clear(url)`` drops one endpoint's entries, or a whole origin's.
"""

from __future__ import annotations

import http.client
import io
import time
from datetime import timedelta
from typing import Any, Awaitable, Callable, Optional, Union

import httpx
import requests
import requests.adapters
from requests.structures import CaseInsensitiveDict

from flightcache import _native, _token
from flightcache.exceptions import WrongTypeError

__all__ = ["CacheTransport", "AsyncCacheTransport", "CacheAdapter", "NAMESPACE"]

NAMESPACE = "http"
Pairs = list[tuple[str, str]]
Record = dict[str, Any]
# (status, headers, decoded body) of one upstream answer.
Upstream = tuple[int, Pairs, bytes]

_MAX_VIEWS = 4096
_MAX_LABELS = 1024


def _ms(v: Any) -> Any:
    return v.total_seconds() * 1000 if isinstance(v, timedelta) else v


class _Helper:
    """What the three adapters share: the lookup, the load and the store of one request."""

    def __init__(
        self,
        cache: Any,
        *,
        ttl: Union[float, timedelta, None] = None,
        max_ttl: Union[float, timedelta, None] = None,
        key_params: Optional[list[str]] = None,
        respect_cache_control: Optional[bool] = None,
        max_key_bytes: Optional[int] = None,
        max_value_bytes: Optional[int] = None,
        drop_token_on_401: bool = True,
    ) -> None:
        self.policy = _native._http_policy(
            _ms(ttl), _ms(max_ttl), respect_cache_control, max_key_bytes, max_value_bytes, key_params
        )
        if not isinstance(drop_token_on_401, bool):
            raise WrongTypeError(f"drop_token_on_401 must be a bool, not {type(drop_token_on_401).__name__}")
        self.root = cache.namespace(NAMESPACE)
        self.drop_token_on_401 = drop_token_on_401
        self._views: dict[tuple[str, str], Any] = {}
        # How the last load of a key went, for the callers that joined it.
        self._labels: dict[str, tuple[Record, str]] = {}

    def clear(self, url: Optional[str] = None) -> None:
        """Drops every stored response, or those of ``url``'s origin (no path) or endpoint."""
        if url is None:
            self.root.clear()
            return
        origin, path = _native._http_endpoint(url)
        view = self.root.namespace(origin)
        if path is not None:
            view = view.namespace(path)
        view.clear()

    def view(self, origin: str, path: str) -> Any:
        v = self._views.get((origin, path))
        if v is None:
            if len(self._views) >= _MAX_VIEWS:
                self._views.clear()
            v = self._views[(origin, path)] = self.root.namespace(origin).namespace(path)
        return v

    def upstream_status(self, status: int, request_headers: Pairs) -> None:
        if status == 401 and self.drop_token_on_401:
            token = _native._http_bearer(request_headers)
            if token is not None:
                _token.drop(token)

    def plan(self, method: str, url: str, headers: Pairs) -> Optional["_Flight"]:
        plan = self.policy.request(method, url, headers)
        if isinstance(plan, str):
            return None
        origin, path, base, max_age = plan
        return _Flight(self, method, headers, self.view(origin, path), base, max_age)


class _Flight:
    """One cacheable request: what it found, and the load that answers it on a miss."""

    def __init__(self, helper: _Helper, method: str, headers: Pairs, view: Any, base: str, max_age: Optional[int]):
        self.h = helper
        self.method = method
        self.headers = headers
        self.view = view
        self.base = base
        self.max_age = max_age
        self.key = base
        self.entry: Optional[Record] = None
        self.label: Optional[str] = None
        self.ttl = 0
        self.stale_ttl: Optional[float] = None

    def lookup(self) -> Optional[Record]:
        """The stored response this request may be answered with at once (a HIT), if any."""
        entry = self.view.get(self.base)
        if entry is not None and "status" not in entry:
            # A marker: the responses here vary on request headers.
            self.key = _native._http_variant(self.base, entry["vary"], self.headers)
            entry = self.view.get(self.key)
        self.entry = entry
        if entry is None or self.max_age == 0:
            return None
        if self.max_age is None:
            return entry
        fresh: Optional[Record] = self.view.get(self.key, max_age=self.max_age)
        return fresh

    def conditional(self) -> Pairs:
        if self.entry is None:
            return []
        # The entry's remaining TTL, kept if the re-validation fails and it is served stale.
        self.stale_ttl = self.view.remaining_ttl(self.key)
        return list(_native._http_conditional(self.entry["headers"]))

    def answered(self, got: Optional[Upstream], sent_conditional: bool) -> Record:
        """The record for the upstream's answer (`None`: it did not answer), stored as the
        core decides. Sets ``label`` and ``ttl`` for the flight."""
        entry = self.entry
        status = None if got is None else got[0]
        if entry is not None and _native._http_serve_stored_on(status):
            self.label, self.ttl = "STALE", int(self.stale_ttl or 0)
            return self._done(entry)
        if got is None:
            raise RuntimeError("unreachable: no answer and nothing stored")
        status, headers, body = got
        self.h.upstream_status(status, self.headers)
        if status == 304 and entry is not None and sent_conditional:
            headers = _native._http_refreshed(entry["headers"], headers)
            status, body, self.label = entry["status"], entry["body"], "REVALIDATED"
        else:
            self.label = "MISS"
        ttl, vary, stored, _reason = self.h.policy.response(self.method, status, headers, len(body), int(time.time() * 1000))
        record: Record = {
            "status": status,
            "headers": [[n, v] for n, v in stored],
            "body": body,
            "vary": [] if vary is None else [list(p) for p in _native._http_varied(vary, self.headers)],
        }
        target = self.base if vary is None else _native._http_variant(self.base, vary, self.headers)
        if ttl and target != self.key:
            # Stored elsewhere than the flight's key: a set during a load wins over it.
            if vary is not None:
                self.view.set(self.base, {"vary": vary}, ttl)
            self.view.set(target, record, ttl)
            ttl = 0
        self.ttl = ttl
        return self._done(record)

    def _done(self, record: Record) -> Record:
        labels = self.h._labels
        if len(labels) >= _MAX_LABELS:
            labels.clear()
        labels[self.key] = (record, self.label or "MISS")
        return record

    def joined(self, record: Record) -> Optional[str]:
        """The label of a record this caller got from another caller's load; `None` when
        the response varies and does not suit this request (it must load its own)."""
        if record.get("vary") and not _native._http_vary_matches(record["vary"], self.headers):
            return None
        seen = self.h._labels.get(self.key)
        return seen[1] if seen is not None and seen[0] is record else "MISS"

    def keep(self, _record: Record) -> int:
        return self.ttl


def _fetch(helper: _Helper, method: str, url: str, headers: Pairs, send: Callable[[Pairs], Upstream]) -> Optional[tuple[Record, str]]:
    """The synchronous flow; `None` when the request bypasses the cache."""
    for _attempt in range(2):
        f = helper.plan(method, url, headers)
        if f is None:
            return None
        hit = f.lookup()
        if hit is not None:
            return hit, "HIT"

        def load(f: _Flight = f) -> Record:
            cond = f.conditional()
            try:
                got = send(cond)
            except Exception:
                if f.entry is None:
                    raise
                return f.answered(None, bool(cond))
            return f.answered(got, bool(cond))

        record: Record = f.view.get(f.key, load, f.keep, max_age=f.max_age)
        if f.label is not None:
            return record, f.label
        label = f.joined(record)
        if label is not None:
            return record, label
    return record, "MISS"


async def _afetch(
    helper: _Helper, method: str, url: str, headers: Pairs, send: Callable[[Pairs], Awaitable[Upstream]]
) -> Optional[tuple[Record, str]]:
    """`_fetch` for asyncio."""
    for _attempt in range(2):
        f = helper.plan(method, url, headers)
        if f is None:
            return None
        hit = f.lookup()
        if hit is not None:
            return hit, "HIT"

        async def load(f: _Flight = f) -> Record:
            cond = f.conditional()
            try:
                got = await send(cond)
            except Exception:
                if f.entry is None:
                    raise
                return f.answered(None, bool(cond))
            return f.answered(got, bool(cond))

        record: Record = await f.view.aget(f.key, load, f.keep, max_age=f.max_age)
        if f.label is not None:
            return record, f.label
        label = f.joined(record)
        if label is not None:
            return record, label
    return record, "MISS"


# ------------------------------------------------------------------------------ httpx


def _httpx_request(request: httpx.Request, extra: Pairs) -> httpx.Request:
    if not extra:
        return request
    headers = request.headers.copy()
    for n, v in extra:
        headers[n] = v
    return httpx.Request(request.method, request.url, headers=headers, extensions=request.extensions)


def _httpx_response(record: Record, label: str, request: httpx.Request) -> httpx.Response:
    headers = [(n, v) for n, v in record["headers"]]
    headers.append(("x-cache", label))
    return httpx.Response(record["status"], headers=headers, content=record["body"], request=request)


class CacheTransport(httpx.BaseTransport):
    """An httpx transport that answers from the cache: ``httpx.Client(transport=CacheTransport(cache))``.

    Options: ``ttl`` (ms, default 600 000), ``max_ttl`` (default 3 600 000), ``key_params``
    (the query parameter names in the key; default all), ``respect_cache_control`` (default
    False), ``max_key_bytes`` / ``max_value_bytes`` (default 10 240 each),
    ``drop_token_on_401`` (default True).
    """

    def __init__(self, cache: Any, transport: Optional[httpx.BaseTransport] = None, **options: Any) -> None:
        self._helper = _Helper(cache, **options)
        self._transport = transport if transport is not None else httpx.HTTPTransport()

    def clear(self, url: Optional[str] = None) -> None:
        """Drops every stored response, or those of one origin or endpoint (``url``)."""
        self._helper.clear(url)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        headers = request.headers.multi_items()

        def send(extra: Pairs) -> Upstream:
            response = self._transport.handle_request(_httpx_request(request, extra))
            try:
                body = response.read()
            finally:
                response.close()
            return response.status_code, response.headers.multi_items(), body

        out = _fetch(self._helper, request.method, str(request.url), headers, send)
        if out is None:
            response = self._transport.handle_request(request)
            self._helper.upstream_status(response.status_code, headers)
            response.headers["x-cache"] = "MISS"
            return response
        return _httpx_response(out[0], out[1], request)

    def close(self) -> None:
        self._transport.close()


class AsyncCacheTransport(httpx.AsyncBaseTransport):
    """`CacheTransport` for ``httpx.AsyncClient``; the same options."""

    def __init__(self, cache: Any, transport: Optional[httpx.AsyncBaseTransport] = None, **options: Any) -> None:
        self._helper = _Helper(cache, **options)
        self._transport = transport if transport is not None else httpx.AsyncHTTPTransport()

    def clear(self, url: Optional[str] = None) -> None:
        self._helper.clear(url)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        headers = request.headers.multi_items()

        async def send(extra: Pairs) -> Upstream:
            response = await self._transport.handle_async_request(_httpx_request(request, extra))
            try:
                body = await response.aread()
            finally:
                await response.aclose()
            return response.status_code, response.headers.multi_items(), body

        out = await _afetch(self._helper, request.method, str(request.url), headers, send)
        if out is None:
            response = await self._transport.handle_async_request(request)
            self._helper.upstream_status(response.status_code, headers)
            response.headers["x-cache"] = "MISS"
            return response
        return _httpx_response(out[0], out[1], request)

    async def aclose(self) -> None:
        await self._transport.aclose()


# ------------------------------------------------------------------------------ requests


class CacheAdapter(requests.adapters.HTTPAdapter):
    """A requests adapter that answers from the cache: ``session.mount("https://", CacheAdapter(cache))``.

    The same options as `CacheTransport`; other keyword arguments go to ``HTTPAdapter``.
    """

    _OPTIONS = ("ttl", "max_ttl", "key_params", "respect_cache_control", "max_key_bytes", "max_value_bytes", "drop_token_on_401")

    def __init__(self, cache: Any, **options: Any) -> None:
        adapter_options = {k: options.pop(k) for k in list(options) if k not in self._OPTIONS}
        super().__init__(**adapter_options)
        self._helper = _Helper(cache, **options)

    def clear(self, url: Optional[str] = None) -> None:
        self._helper.clear(url)

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        headers = list(request.headers.items())
        method = request.method or "GET"
        url = request.url or ""

        def send(extra: Pairs) -> Upstream:
            req = request
            if extra:
                req = request.copy()
                req.headers.update(dict(extra))
            kwargs["stream"] = False
            response = super(CacheAdapter, self).send(req, *args, **kwargs)
            return response.status_code, list(response.headers.items()), response.content

        out = _fetch(self._helper, method, url, headers, send)
        if out is None:
            response = super().send(request, *args, **kwargs)
            self._helper.upstream_status(response.status_code, headers)
            response.headers["X-Cache"] = "MISS"
            return response
        record, label = out
        response = requests.Response()
        response.status_code = record["status"]
        response.reason = http.client.responses.get(record["status"], "")
        merged: dict[str, str] = {}
        for n, v in record["headers"]:
            # As requests does with repeated headers.
            merged[n] = f"{merged[n]}, {v}" if n in merged else v
        response.headers = CaseInsensitiveDict(merged)
        response.headers["X-Cache"] = label
        response._content = record["body"]
        response._content_consumed = True  # type: ignore[attr-defined]
        response.raw = io.BytesIO(record["body"])
        response.encoding = requests.utils.get_encoding_from_headers(response.headers)
        response.url = url
        response.request = request
        response.connection = self
        return response
