"""``Cache.token`` / ``Cache.atoken``: an access token kept for its lifetime less a skew.

The token fetcher returns an OAuth token response (a dict with ``access_token`` and
``expires_in`` seconds or ``expires_at``) or the token itself (a JWT string, whose ``exp``
gives the lifetime); the core (``flightcache::http::token``) reads it. Tokens are kept in the
cache's ``token`` namespace under their name, as plain strings, and fetched once per lifetime
however many callers ask (the cache's single flight).

Refresh-ahead: the first call after ``refresh_ahead`` (default 0.8) of the time a token is
kept returns it at once and fetches the next one in the background (the cache's
``refresh_ahead`` policy), so callers of a busy token never wait for the token endpoint;
``refresh_ahead=None`` turns it off (the first caller after the lifetime less the skew
fetches).
"""

from __future__ import annotations

import inspect
import threading
import time
import weakref
from typing import Any, Callable

from flightcache import _native
from flightcache.exceptions import WrongTypeError

NAMESPACE = "token"

# The tokens cache.token handed out, so that an HTTP helper seeing a 401 to a request that
# carried one can drop it: token -> (the cache it is kept in, its name). Bounded: the oldest
# go first; a token missing here is only not dropped early.
_MAX_HELD = 1024
_held: dict[str, tuple[weakref.ref[Any], str]] = {}
_lock = threading.Lock()


def _check(name: Any, fetch_token: Any, skew: Any) -> None:
    if not isinstance(name, str):
        raise WrongTypeError(f"token name must be a str, not {type(name).__name__}")
    if not callable(fetch_token):
        raise WrongTypeError(f"fetch_token must be a function, not {type(fetch_token).__name__}")
    _native._token_skew(skew)


def _grant(cache: Any, name: str, value: Any, skew: Any) -> tuple[str, int]:
    token, keep, _lifetime = _native._token_grant(value, int(time.time() * 1000), skew)
    with _lock:
        _held[token] = (weakref.ref(cache), name)
        while len(_held) > _MAX_HELD:
            del _held[next(iter(_held))]
    return token, keep


def _policy(refresh_ahead: Any) -> dict[str, Any]:
    return {} if refresh_ahead is None else {"refresh_ahead": refresh_ahead}


def token(
    cache: Any,
    name: str,
    fetch_token: Callable[[], Any],
    *,
    skew: float = 30_000,
    refresh_ahead: float | None = 0.8,
) -> str:
    _check(name, fetch_token, skew)
    keep = 0

    def load() -> str:
        nonlocal keep
        value = fetch_token()
        if inspect.isawaitable(value):
            if inspect.iscoroutine(value):
                value.close()
            raise WrongTypeError("fetch_token returned an awaitable: use `await cache.atoken(...)`")
        token, keep = _grant(cache, name, value, skew)
        return token

    result: str = cache.namespace(NAMESPACE).get(
        name, load, lambda _t: keep, **_policy(refresh_ahead)
    )
    return result


async def atoken(
    cache: Any,
    name: str,
    fetch_token: Callable[[], Any],
    *,
    skew: float = 30_000,
    refresh_ahead: float | None = 0.8,
) -> str:
    _check(name, fetch_token, skew)
    keep = 0

    async def load() -> str:
        nonlocal keep
        value = fetch_token()
        if inspect.isawaitable(value):
            value = await value
        token, keep = _grant(cache, name, value, skew)
        return token

    result: str = await cache.namespace(NAMESPACE).aget(
        name, load, lambda _t: keep, **_policy(refresh_ahead)
    )
    return result


def drop(token: str) -> bool:
    """Drops ``token`` from the cache that holds it, if it is still the one kept there."""
    with _lock:
        held = _held.pop(token, None)
    if held is None:
        return False
    cache = held[0]()
    if cache is None:
        return False
    ns = cache.namespace(NAMESPACE)
    if ns.get(held[1]) != token:
        return False
    ns.delete(held[1])
    return True
