"""flightcache as a Django cache backend::

    CACHES = {
        "default": {
            "BACKEND": "flightcache.contrib.django.FlightcacheCache",
            "LOCATION": "sqlite:////var/cache/app.db",  # or redis://..., or a name
            "TIMEOUT": 300,
            "OPTIONS": {"MAX_ENTRIES": 10_000},
        }
    }

``LOCATION`` is a flightcache store URL (``sqlite:///ABS/PATH``, ``redis://HOST:PORT/DB``,
``memory://NAME``), or any other text naming a cache of this process, shared by every
backend with that location (as Django's local-memory backend does). ``TIMEOUT``,
``KEY_PREFIX``, ``VERSION`` and ``KEY_FUNCTION`` work as in Django. ``OPTIONS``:
``MAX_ENTRIES`` bounds the entries this process keeps; lower-case options are flightcache
``Cache`` options (``max_bytes``, ``store_timeout``, ...). Keys live in the flightcache
namespace ``django`` (``OPTIONS["NAMESPACE"]`` to change it), and ``clear()`` removes only
those. With a store URL, values are pickled, as Django's Redis backend does (integers stay
integers, so ``incr`` is atomic in the store); without one they are kept by reference
(``get`` returns the very object ``set`` was given), unless ``OPTIONS["PICKLE"]`` is true.
``OPTIONS["copy"] = True`` (flightcache's copy semantics) keeps copies without pickle, for
apps that cache only plain data (str, bytes, int, float, bool, None, lists, dicts with str
keys): anything else is then a ``TypeError``. Django's contract is any picklable object,
which is why pickling stays the default with a store.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

from django.core.cache.backends.base import (  # type: ignore[import-untyped]
    DEFAULT_TIMEOUT,
    BaseCache,
)

from flightcache._native import Cache
from flightcache.contrib import dumps, is_store_url, loads, namespace_name, shared_cache
from flightcache.exceptions import KeyNotFoundError

__all__ = ["FlightcacheCache"]

_MISSING = object()
_DJANGO_OPTIONS = {"MAX_ENTRIES", "CULL_FREQUENCY", "NAMESPACE", "PICKLE"}


class FlightcacheCache(BaseCache):  # type: ignore[misc]
    """A Django cache backend on flightcache (see the module's documentation)."""

    def __init__(self, location: str, params: dict[str, Any]) -> None:
        super().__init__(params)
        options = dict(params.get("OPTIONS") or {})
        extra = {k: v for k, v in options.items() if k not in _DJANGO_OPTIONS}
        base = shared_cache(location, max_entries=self._max_entries, **extra)
        self._cache: Cache = base.namespace(namespace_name(options.get("NAMESPACE", "django")))
        pickled = options.get("PICKLE")
        self._pickle = is_store_url(location) if pickled is None else bool(pickled)

    def _dumps(self, value: Any) -> Any:
        return dumps(value) if self._pickle else value

    def _loads(self, value: Any) -> Any:
        return loads(value) if self._pickle and value is not _MISSING else value

    @property
    def flightcache(self) -> Cache:
        """The flightcache namespace this backend works in."""
        return self._cache

    def _ttl(self, timeout: Any) -> float:
        """The flightcache ttl (ms) of a Django timeout: ``None`` never expires, 0 or less
        expires at once."""
        if timeout is DEFAULT_TIMEOUT:
            timeout = self.default_timeout
        if timeout is None:
            return math.inf
        return max(0.0, float(timeout)) * 1000.0

    def add(self, key: str, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        key = self.make_and_validate_key(key, version=version)
        ttl = self._ttl(timeout)
        if ttl == 0:
            # Stored and expired at once: it "was added" when the key had no value.
            return not self._cache.exists(key)
        return bool(self._cache.add(key, self._dumps(value), ttl))

    def get(self, key: str, default: Any = None, version: int | None = None) -> Any:
        key = self.make_and_validate_key(key, version=version)
        v = self._cache.get(key, default=_MISSING)
        return default if v is _MISSING else self._loads(v)

    def set(self, key: str, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> None:
        key = self.make_and_validate_key(key, version=version)
        self._cache.set(key, self._dumps(value), self._ttl(timeout))

    def touch(self, key: str, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        key = self.make_and_validate_key(key, version=version)
        return bool(self._cache.expire(key, self._ttl(timeout)))

    def delete(self, key: str, version: int | None = None) -> bool:
        key = self.make_and_validate_key(key, version=version)
        return bool(self._cache.delete(key))

    def has_key(self, key: str, version: int | None = None) -> bool:
        key = self.make_and_validate_key(key, version=version)
        return bool(self._cache.exists(key))

    def get_many(self, keys: Iterable[str], version: int | None = None) -> dict[str, Any]:
        found = {}
        for k in keys:
            v = self._cache.get(self.make_and_validate_key(k, version=version), default=_MISSING)
            if v is not _MISSING:
                found[k] = self._loads(v)
        return found

    def set_many(
        self, data: dict[str, Any], timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> list[str]:
        ttl = self._ttl(timeout)
        for k, v in data.items():
            self._cache.set(self.make_and_validate_key(k, version=version), self._dumps(v), ttl)
        return []

    def delete_many(self, keys: Iterable[str], version: int | None = None) -> None:
        for k in keys:
            self._cache.delete(self.make_and_validate_key(k, version=version))

    def incr(self, key: str, delta: int = 1, version: int | None = None) -> int:
        full = self.make_and_validate_key(key, version=version)
        try:
            return int(self._cache.incr(full, delta, must_exist=True))
        except KeyNotFoundError:
            raise ValueError(f"Key '{key}' not found") from None

    def clear(self) -> None:
        self._cache.clear()
