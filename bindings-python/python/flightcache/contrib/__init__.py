"""Drop-in backends for the cache APIs applications already use.

- ``flightcache.contrib.django.FlightcacheCache``: a Django cache backend (``CACHES``).
- ``flightcache.contrib.cachelib.FlightcacheCache``: a ``cachelib.BaseCache``, and
  ``flightcache.contrib.cachelib.factory`` for Flask-Caching's ``CACHE_TYPE``.

Each imports its framework only when it is imported itself (``pip install
flightcache[django]`` / ``flightcache[cachelib]``).
"""

from __future__ import annotations

import pickle
import threading
from typing import Any

from flightcache._native import Cache

_lock = threading.Lock()
_shared: dict[tuple[str, tuple[tuple[str, Any], ...]], Cache] = {}


def shared_cache(location: str | None, **options: Any) -> Cache:
    """The process's one cache for ``location`` and these options, made on first use.

    A location with ``://`` is a store URL (``sqlite:///ABS/PATH``, ``redis://HOST:PORT/DB``,
    ``memory://NAME``): the cache keeps an in-process tier in front of that store. Any other
    location (or none) names a cache of this process only, shared by every backend that
    names it, as Django's local-memory backend shares one per ``LOCATION``.
    """
    location = location or ""
    if "://" in location:
        options["store"] = location
    opts = {k: v for k, v in options.items() if v is not None}
    key = (location, tuple(sorted(opts.items(), key=lambda kv: kv[0])))
    with _lock:
        cache = _shared.get(key)
        if cache is None:
            cache = _shared[key] = Cache(**opts)
        return cache


def namespace_name(text: str) -> str:
    """A flightcache namespace name for any text: ``%`` and ``:`` are escaped (``%25``,
    ``%3A``), so two different texts never give the same name, and the name holds no
    ``:``, which namespaces may not contain."""
    if not text:
        return "%"
    return text.replace("%", "%25").replace(":", "%3A")


def is_store_url(location: str | None) -> bool:
    """Whether a location names a store (and not a cache of this process)."""
    return bool(location) and "://" in str(location)


def dumps(value: Any) -> Any:
    """A value as the adapters keep it when they pickle: an ``int`` as it is (so that
    ``incr`` works on it, in the store too), anything else pickled to bytes, as Django's and
    cachelib's Redis backends do."""
    if type(value) is int:
        return value
    return pickle.dumps(value, pickle.HIGHEST_PROTOCOL)


def loads(value: Any) -> Any:
    """The value :func:`dumps` was given."""
    if isinstance(value, bytes):
        return pickle.loads(value)
    return value
