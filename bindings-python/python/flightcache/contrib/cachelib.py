"""flightcache behind cachelib's API (``cachelib.BaseCache``), and so behind Flask-Caching.

    from flightcache.contrib.cachelib import FlightcacheCache
    cache = FlightcacheCache("sqlite:////var/cache/app.db", default_timeout=300)

Flask-Caching::

    app.config["CACHE_TYPE"] = "flightcache.contrib.cachelib.factory"
    app.config["CACHE_OPTIONS"] = {"location": "redis://127.0.0.1:6379/0"}

Flask-Caching calls a ``CACHE_TYPE`` whose path contains ``cachelib`` the way it calls a
cachelib class, ``factory(*CACHE_ARGS, default_timeout=..., **CACHE_OPTIONS)``, so the
location is given in ``CACHE_OPTIONS``; ``factory`` also takes Flask-Caching's factory form
``factory(app, config, args, kwargs)``.

Timeouts are in seconds, as in cachelib: ``None`` is the default timeout, ``0`` never
expires, a negative timeout removes the key. With a store URL, values are pickled (as
cachelib's Redis backend does; integers stay integers so that ``inc`` is atomic); without
one they are kept by reference (``get`` returns the very object ``set`` was given), unless
``pickle=True``. ``copy=True`` (a flightcache ``Cache`` option) keeps copies instead,
without pickle: only values of flightcache's wire format (str, bytes, int, float, bool,
None, lists, and dicts with str keys) can then be set, which is why pickling stays the
default with a store (cachelib's own tests store tuples and dicts with int keys).
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from cachelib import BaseCache

from flightcache._native import Cache
from flightcache.contrib import dumps, is_store_url, loads, namespace_name, shared_cache

__all__ = ["FlightcacheCache", "factory"]


class FlightcacheCache(BaseCache):  # type: ignore[misc]
    """A cachelib cache on flightcache.

    ``location``: a store URL, or a name for a cache shared in this process (default
    ``"cachelib"``). ``namespace``: the flightcache namespace this cache's keys live in
    (``clear`` removes only those; default ``"cachelib"``). ``key_prefix`` is put before
    every key. ``pickle``: keep values pickled (default: with a store URL only). Other keyword
    arguments are flightcache ``Cache`` options (``max_entries``, ``max_bytes``, ...).
    ``cache``: an existing flightcache ``Cache`` to use instead.
    """

    def __init__(
        self,
        location: str | None = None,
        default_timeout: int = 300,
        key_prefix: str = "",
        namespace: str = "cachelib",
        cache: Cache | None = None,
        pickle: bool | None = None,
        ignore_delete_many_errors: bool = True,
        **options: Any,
    ) -> None:
        # ignore_delete_many_errors is cachelib's; a flightcache delete does not fail.
        del ignore_delete_many_errors
        super().__init__(default_timeout=default_timeout)
        base = cache if cache is not None else shared_cache(location or "cachelib", **options)
        self._pickle = is_store_url(location) if pickle is None else pickle
        self._cache = base.namespace(namespace_name(namespace))
        self.key_prefix = key_prefix or ""

    @property
    def flightcache(self) -> Cache:
        """The flightcache namespace this cache works in."""
        return self._cache

    def _key(self, key: str) -> str:
        return self.key_prefix + key

    def _ttl(self, timeout: int | float | timedelta | None) -> float | None:
        """The flightcache ttl (ms) of a cachelib timeout; ``None`` for a removal."""
        if timeout is None:
            timeout = self.default_timeout
        if isinstance(timeout, timedelta):
            timeout = timeout.total_seconds()
        if timeout == 0:
            return math.inf
        if timeout < 0:
            return None
        return float(timeout) * 1000.0

    def _dumps(self, value: Any) -> Any:
        return dumps(value) if self._pickle else value

    def get(self, key: str) -> Any:
        v = self._cache.get(self._key(key))
        return loads(v) if self._pickle else v

    def set(self, key: str, value: Any, timeout: int | float | timedelta | None = None) -> bool:
        ttl = self._ttl(timeout)
        if ttl is None:
            self._cache.delete(self._key(key))
            return True
        self._cache.set(self._key(key), self._dumps(value), ttl)
        return True

    def add(self, key: str, value: Any, timeout: int | float | timedelta | None = None) -> bool:
        ttl = self._ttl(timeout)
        if ttl is None:
            return not self._cache.exists(self._key(key))
        return bool(self._cache.add(self._key(key), self._dumps(value), ttl))

    def delete(self, key: str) -> bool:
        return bool(self._cache.delete(self._key(key)))

    def delete_many(self, *keys: str) -> list[str]:
        # A key that is not there counts as deleted (cachelib's rule); nothing else fails.
        for k in keys:
            self._cache.delete(self._key(k))
        return list(keys)

    def has(self, key: str) -> bool:
        return bool(self._cache.exists(self._key(key)))

    def clear(self) -> bool:
        self._cache.clear()
        return True

    def inc(self, key: str, delta: int = 1) -> int:
        return int(self._cache.incr(self._key(key), delta))

    def dec(self, key: str, delta: int = 1) -> int:
        return int(self._cache.incr(self._key(key), -delta))


def factory(*args: Any, **kwargs: Any) -> FlightcacheCache:
    """Flask-Caching's ``CACHE_TYPE = "flightcache.contrib.cachelib.factory"``.

    Called as ``factory(app, config, args, kwargs)`` (Flask-Caching's factory form), it reads
    ``CACHE_FLIGHTCACHE_LOCATION`` (a store URL or a cache name), ``CACHE_DEFAULT_TIMEOUT``,
    ``CACHE_KEY_PREFIX``, ``CACHE_THRESHOLD`` (the most entries kept in this process) and
    ``CACHE_OPTIONS``. Flask-Caching calls a type whose path contains ``cachelib`` as
    ``factory(*CACHE_ARGS, default_timeout=..., ignore_delete_many_errors=...,
    **CACHE_OPTIONS)``: then the location is ``CACHE_OPTIONS["location"]`` (or the first
    of ``CACHE_ARGS``).
    """
    if len(args) == 4 and not kwargs and isinstance(args[1], dict) and hasattr(args[0], "config"):
        _app, config, cache_args, cache_kwargs = args
        options = dict(cache_kwargs)
        options.setdefault("location", config.get("CACHE_FLIGHTCACHE_LOCATION"))
        options.setdefault("default_timeout", config.get("CACHE_DEFAULT_TIMEOUT", 300))
        options.setdefault("key_prefix", config.get("CACHE_KEY_PREFIX") or "")
        if config.get("CACHE_THRESHOLD") is not None:
            options.setdefault("max_entries", config["CACHE_THRESHOLD"])
        for k, v in (config.get("CACHE_OPTIONS") or {}).items():
            options.setdefault(k, v)
        return FlightcacheCache(*cache_args, **options)
    return FlightcacheCache(*args, **kwargs)
