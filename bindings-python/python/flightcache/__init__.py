"""flightcache: a bounded TTL cache with single-flight loading, for threads and asyncio.

    from flightcache import Cache

    cache = Cache(max_entries=10_000, ttl=7 * 24 * 3600 * 1000)
    token = cache.get("token", get_value=authenticate, ttl=60_000)             # threads
    token = await cache.aget("token", get_value=authenticate_async, ttl=60_000)  # asyncio

The engine is written in Rust (the `flightcache` crate); this package converts values, handles
the GIL and maps errors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flightcache._native import Cache, CacheEntry, ManualClock, Stats
from flightcache.exceptions import (
    FlightcacheError,
    InvalidArgumentError,
    KeyNotFoundError,
    LoaderError,
    LoadTimeoutError,
    ReentrantLoadError,
    WrongTypeError,
)

__all__ = [
    "Cache",
    "CacheEntry",
    "ManualClock",
    "Stats",
    "FlightcacheError",
    "InvalidArgumentError",
    "WrongTypeError",
    "LoadTimeoutError",
    "ReentrantLoadError",
    "LoaderError",
    "KeyNotFoundError",
]

# The installed distribution's version, which maturin takes from the workspace's Cargo.toml.
# Read on first use: importlib.metadata costs ~25 ms to import, ten times this package.
__version__: str

if not TYPE_CHECKING:

    def __getattr__(name: str) -> str:
        if name == "__version__":
            from importlib.metadata import version

            value = version("flightcache")
            globals()["__version__"] = value
            return value
        raise AttributeError(f"module 'flightcache' has no attribute {name!r}")
