"""Stubs of the native module `flightcache._native` (the Rust binding)."""

import datetime
from collections.abc import Awaitable, Callable, Generator, Iterator
from typing import Any, Final, TypeVar, final, overload

__all__ = [
    "Cache",
    "ManualClock",
    "Stats",
    "_Ready",
    "_Lead",
    "_Waiter",
    "_call_key",
    "_path_key",
    "SCALAR_SIZE",
    "DEFAULT_TTL_MS",
]

_T = TypeVar("_T")
_D = TypeVar("_D")

#: Milliseconds, or a datetime.timedelta.
_Ms = int | float | datetime.timedelta
#: A TTL: milliseconds, a timedelta, or a function of the value giving one.
_Ttl = _Ms | Callable[[Any], _Ms | None] | None

SCALAR_SIZE: Final[int]
DEFAULT_TTL_MS: Final[int]

@final
class ManualClock:
    """A clock that moves only when told to, for tests: ``Cache(clock=ManualClock())``."""

    def __new__(cls) -> ManualClock: ...
    def advance(self, ms: _Ms) -> None: ...
    @property
    def now(self) -> int: ...

@final
class Stats:
    """What the cache has done since it was made (shared by all its namespaces)."""

    @property
    def hits(self) -> int: ...
    @property
    def misses(self) -> int: ...
    @property
    def loads(self) -> int: ...
    @property
    def load_errors(self) -> int: ...
    @property
    def evictions(self) -> int: ...
    @property
    def expirations(self) -> int: ...
    @property
    def rejected(self) -> int: ...
    @property
    def entries(self) -> int: ...
    @property
    def bytes(self) -> int: ...
    def as_dict(self) -> dict[str, int]: ...
    def __getitem__(self, name: str, /) -> int: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...

@final
class Cache:
    """A bounded TTL cache with single-flight loading."""

    def __new__(
        cls,
        max_entries: int | None = None,
        *,
        max_bytes: int | None = None,
        max_key_bytes: int | None = None,
        max_value_bytes: int | None = None,
        ttl: _Ms | None = None,
        max_ttl: _Ms | None = None,
        load_timeout: _Ms | None = None,
        clock: ManualClock | None = None,
        size_of: Callable[[Any], int] | None = None,
    ) -> Cache: ...
    @overload
    def get(
        self,
        key: str,
        get_value: None = None,
        ttl: _Ttl = None,
        *,
        max_age: _Ms | None = None,
        default: None = None,
    ) -> Any | None: ...
    @overload
    def get(
        self,
        key: str,
        get_value: None = None,
        ttl: _Ttl = None,
        *,
        max_age: _Ms | None = None,
        default: _D,
    ) -> Any | _D: ...
    @overload
    def get(
        self,
        key: str,
        get_value: Callable[[], _T],
        ttl: _Ttl = None,
        *,
        max_age: _Ms | None = None,
        default: object = None,
    ) -> _T: ...
    @overload
    def aget(
        self,
        key: str,
        get_value: None = None,
        ttl: _Ttl = None,
        *,
        max_age: _Ms | None = None,
        default: object = None,
    ) -> Awaitable[Any]: ...
    @overload
    def aget(
        self,
        key: str,
        get_value: Callable[[], Awaitable[_T]],
        ttl: _Ttl = None,
        *,
        max_age: _Ms | None = None,
        default: object = None,
    ) -> Awaitable[_T]: ...
    @overload
    def aget(
        self,
        key: str,
        get_value: Awaitable[_T],
        ttl: _Ttl = None,
        *,
        max_age: _Ms | None = None,
        default: object = None,
    ) -> Awaitable[_T]: ...
    @overload
    def aget(
        self,
        key: str,
        get_value: Callable[[], _T],
        ttl: _Ttl = None,
        *,
        max_age: _Ms | None = None,
        default: object = None,
    ) -> Awaitable[_T]: ...
    def set(self, key: str, value: object, ttl: _Ttl = None) -> bool: ...
    def aset(self, key: str, value: object, ttl: _Ttl = None) -> Awaitable[bool]: ...
    def delete(self, key: str) -> bool: ...
    def adelete(self, key: str) -> Awaitable[bool]: ...
    def __getitem__(self, key: str, /) -> Any: ...
    def __setitem__(self, key: str, value: object, /) -> None: ...
    def __delitem__(self, key: str, /) -> None: ...
    def __contains__(self, key: object, /) -> bool: ...
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[str]: ...
    def exists(self, key: str) -> bool: ...
    def expire(self, key: str, ttl: _Ms) -> bool: ...
    def remaining_ttl(self, key: str) -> float | None: ...
    def incr(self, key: str, by: int | None = None) -> int: ...
    def keys(self) -> list[str]: ...
    def clear(self) -> None: ...
    def ping(self) -> bool: ...
    def purge_expired(self) -> int: ...
    def namespace(self, name: str) -> Cache: ...
    def stats(self) -> Stats: ...
    def memoize(
        self, ttl: _Ttl = None, key: Callable[..., object] | list[str] | tuple[str, ...] | None = None
    ) -> Callable[[Callable[..., _T]], Callable[..., _T]]: ...
    def token(
        self, name: str, fetch_token: Callable[[], dict[str, Any] | str], *, skew: float = 30000
    ) -> str: ...
    def atoken(
        self,
        name: str,
        fetch_token: Callable[[], dict[str, Any] | str | Awaitable[dict[str, Any] | str]],
        *,
        skew: float = 30000,
    ) -> Awaitable[str]: ...

@final
class _Ready:
    def __await__(self) -> Generator[Any, None, Any]: ...
    def __iter__(self) -> _Ready: ...
    def __next__(self) -> Any: ...
    def send(self, value: object) -> Any: ...
    def throw(self, typ: object, val: object = None, tb: object = None) -> Any: ...
    def close(self) -> None: ...

@final
class _Lead:
    @property
    def flight_id(self) -> int: ...
    @property
    def done(self) -> bool: ...
    def run(self, f: Callable[[], _T]) -> _T: ...
    def complete(self, value: _T) -> _T: ...
    def fail(self, exc: BaseException) -> None: ...
    def abort(self, message: str) -> None: ...

@final
class _Waiter:
    @property
    def flight_id(self) -> int: ...
    @property
    def timeout(self) -> float | None: ...
    def timeout_error(self) -> BaseException: ...
    def on_complete(self, callback: Callable[[bool, Any], object]) -> None: ...

def _call_key(name: str, args: tuple[Any, ...], kwargs: dict[str, Any] | None = None) -> str: ...
def _path_key(name: str, first: object, paths: list[str]) -> str: ...

# The core's HTTP and token rules (flightcache::http), for flightcache.http and _token.
_Pairs = list[tuple[str, str]]

@final
class _HttpPolicy:
    def request(
        self, method: str, url: str, headers: _Pairs
    ) -> str | tuple[str, str, str, int | None]: ...
    def response(
        self, method: str, status: int, headers: _Pairs, body_len: int, now_ms: int
    ) -> tuple[int, list[str] | None, _Pairs, str]: ...
    @property
    def max_value_bytes(self) -> int: ...

def _http_policy(
    ttl: float | None = None,
    max_ttl: float | None = None,
    respect_cache_control: bool | None = None,
    max_key_bytes: int | None = None,
    max_value_bytes: int | None = None,
    key_params: list[str] | None = None,
) -> _HttpPolicy: ...
def _http_variant(base: str, names: list[str], headers: _Pairs) -> str: ...
def _http_varied(names: list[str], headers: _Pairs) -> list[list[str | None]]: ...
def _http_vary_matches(recorded: list[Any], headers: _Pairs) -> bool: ...
def _http_conditional(stored: Any) -> _Pairs: ...
def _http_refreshed(stored: Any, not_modified: _Pairs) -> _Pairs: ...
def _http_serve_stored_on(status: int | None = None) -> bool: ...
def _http_bearer(headers: _Pairs) -> str | None: ...
def _http_endpoint(url: str) -> tuple[str, str | None]: ...
def _token_grant(value: dict[str, Any] | str, now_ms: int, skew: float | None = None) -> tuple[str, int, int]: ...
def _token_skew(skew: float | None) -> int: ...

__all__ += [
    "_HttpPolicy",
    "_http_policy",
    "_http_variant",
    "_http_varied",
    "_http_vary_matches",
    "_http_conditional",
    "_http_refreshed",
    "_http_serve_stored_on",
    "_http_bearer",
    "_http_endpoint",
    "_token_grant",
    "_token_skew",
]
