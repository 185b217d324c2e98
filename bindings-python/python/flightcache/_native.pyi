"""Stubs of the native module `flightcache._native` (the Rust binding)."""

import datetime
from collections.abc import Awaitable, Callable, Generator, Iterator
from typing import Any, Final, Literal, TypedDict, TypeVar, final, overload

from typing_extensions import Unpack, disjoint_base

__all__ = [
    "Cache",
    "CacheEntry",
    "ManualClock",
    "Stats",
    "_Ready",
    "_Op",
    "_LoopWaker",
    "_call_key",
    "_path_key",
    "_after_fork_in_child",
    "_purge_all",
    "SCALAR_SIZE",
    "DEFAULT_TTL_MS",
    "SWEEP_POLL_MS",
]

_T = TypeVar("_T")
_D = TypeVar("_D")

#: Milliseconds, or a datetime.timedelta.
_Ms = int | float | datetime.timedelta
#: A TTL: milliseconds, a timedelta, or a function of the value giving one.
_Ttl = _Ms | Callable[[Any], _Ms | None] | None

class _Policy(TypedDict, total=False):
    """The resilience options, per cache and per call (milliseconds, or a timedelta)."""

    stale_ttl: _Ms | None
    stale_if_error: _Ms | None
    soft_timeout: _Ms | None
    hard_timeout: _Ms | None
    refresh_ahead: float | None
    fail_safe_backoff: _Ms | None

SCALAR_SIZE: Final[int]
DEFAULT_TTL_MS: Final[int]
SWEEP_POLL_MS: Final[int]

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
    @property
    def store_hits(self) -> int: ...
    @property
    def store_misses(self) -> int: ...
    @property
    def store_errors(self) -> int: ...
    @property
    def remote_loads_joined(self) -> int: ...
    @property
    def stale_hits(self) -> int: ...
    @property
    def refreshes(self) -> int: ...
    @property
    def refresh_errors(self) -> int: ...
    def as_dict(self) -> dict[str, int]: ...
    def __getitem__(self, name: str, /) -> int: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...

@final
class CacheEntry:
    """A value with how it was served (``get_entry``): the "Cached" badge."""

    @property
    def value(self) -> Any: ...
    @property
    def status(self) -> Literal["hit", "stale", "miss", "loaded", "joined", "refreshing"]: ...
    @property
    def source(self) -> Literal["memory", "store", "loader"]: ...
    @property
    def age_ms(self) -> float | None: ...
    @property
    def remaining_ttl(self) -> float | None: ...

@disjoint_base
class Cache:
    """A bounded TTL cache with single-flight loading, optionally in front of a shared
    store (``store="sqlite:///..."``, ``"redis://..."``)."""

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
        store: str | None = None,
        store_timeout: _Ms | None = None,
        lease: _Ms | None = None,
        l1_staleness: _Ms | None = None,
        store_max_entries: int | None = None,
        store_max_bytes: int | None = None,
        copy: bool | None = None,
        **policy: Unpack[_Policy],
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
        stale_ttl: _Ms | None = None,
        stale_if_error: _Ms | None = None,
        soft_timeout: _Ms | None = None,
        hard_timeout: _Ms | None = None,
        refresh_ahead: float | None = None,
        fail_safe_backoff: _Ms | None = None,
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
        stale_ttl: _Ms | None = None,
        stale_if_error: _Ms | None = None,
        soft_timeout: _Ms | None = None,
        hard_timeout: _Ms | None = None,
        refresh_ahead: float | None = None,
        fail_safe_backoff: _Ms | None = None,
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
        stale_ttl: _Ms | None = None,
        stale_if_error: _Ms | None = None,
        soft_timeout: _Ms | None = None,
        hard_timeout: _Ms | None = None,
        refresh_ahead: float | None = None,
        fail_safe_backoff: _Ms | None = None,
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
        stale_ttl: _Ms | None = None,
        stale_if_error: _Ms | None = None,
        soft_timeout: _Ms | None = None,
        hard_timeout: _Ms | None = None,
        refresh_ahead: float | None = None,
        fail_safe_backoff: _Ms | None = None,
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
        stale_ttl: _Ms | None = None,
        stale_if_error: _Ms | None = None,
        soft_timeout: _Ms | None = None,
        hard_timeout: _Ms | None = None,
        refresh_ahead: float | None = None,
        fail_safe_backoff: _Ms | None = None,
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
        stale_ttl: _Ms | None = None,
        stale_if_error: _Ms | None = None,
        soft_timeout: _Ms | None = None,
        hard_timeout: _Ms | None = None,
        refresh_ahead: float | None = None,
        fail_safe_backoff: _Ms | None = None,
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
        stale_ttl: _Ms | None = None,
        stale_if_error: _Ms | None = None,
        soft_timeout: _Ms | None = None,
        hard_timeout: _Ms | None = None,
        refresh_ahead: float | None = None,
        fail_safe_backoff: _Ms | None = None,
    ) -> Awaitable[_T]: ...
    def get_entry(
        self,
        key: str,
        get_value: Callable[[], object] | None = None,
        ttl: _Ttl = None,
        *,
        max_age: _Ms | None = None,
        default: object = None,
        stale_ttl: _Ms | None = None,
        stale_if_error: _Ms | None = None,
        soft_timeout: _Ms | None = None,
        hard_timeout: _Ms | None = None,
        refresh_ahead: float | None = None,
        fail_safe_backoff: _Ms | None = None,
    ) -> CacheEntry: ...
    def aget_entry(
        self,
        key: str,
        get_value: Callable[[], object] | Awaitable[object] | None = None,
        ttl: _Ttl = None,
        *,
        max_age: _Ms | None = None,
        default: object = None,
        stale_ttl: _Ms | None = None,
        stale_if_error: _Ms | None = None,
        soft_timeout: _Ms | None = None,
        hard_timeout: _Ms | None = None,
        refresh_ahead: float | None = None,
        fail_safe_backoff: _Ms | None = None,
    ) -> Awaitable[CacheEntry]: ...
    def set(self, key: str, value: object, ttl: _Ttl = None) -> bool: ...
    def aset(self, key: str, value: object, ttl: _Ttl = None) -> Awaitable[bool]: ...
    def add(self, key: str, value: object, ttl: _Ttl = None) -> bool: ...
    def aadd(self, key: str, value: object, ttl: _Ttl = None) -> Awaitable[bool]: ...
    def delete(self, key: str) -> bool: ...
    def adelete(self, key: str) -> Awaitable[bool]: ...
    def __getitem__(self, key: str, /) -> Any: ...
    def __setitem__(self, key: str, value: object, /) -> None: ...
    def __delitem__(self, key: str, /) -> None: ...
    def __contains__(self, key: object, /) -> bool: ...
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[str]: ...
    def exists(self, key: str) -> bool: ...
    def aexists(self, key: str) -> Awaitable[bool]: ...
    def expire(self, key: str, ttl: _Ms) -> bool: ...
    def aexpire(self, key: str, ttl: _Ms) -> Awaitable[bool]: ...
    def remaining_ttl(self, key: str) -> float | None: ...
    def aremaining_ttl(self, key: str) -> Awaitable[float | None]: ...
    def incr(self, key: str, by: int | None = None, *, must_exist: bool = False) -> int: ...
    def aincr(
        self, key: str, by: int | None = None, *, must_exist: bool = False
    ) -> Awaitable[int]: ...
    def keys(self) -> list[str]: ...
    def akeys(self) -> Awaitable[list[str]]: ...
    def clear(self) -> None: ...
    def aclear(self) -> Awaitable[None]: ...
    def ping(self) -> bool: ...
    def aping(self) -> Awaitable[bool]: ...
    def purge_expired(self) -> int: ...
    @property
    def store_error(self) -> str | None: ...
    def namespace(self, name: str) -> Cache: ...
    def stats(self) -> Stats: ...
    def memoize(
        self,
        ttl: _Ttl = None,
        key: Callable[..., object] | list[str] | tuple[str, ...] | None = None,
        **policy: Unpack[_Policy],
    ) -> Callable[[Callable[..., _T]], Callable[..., _T]]: ...
    def token(
        self,
        name: str,
        fetch_token: Callable[[], dict[str, Any] | str],
        *,
        skew: float = 30000,
        refresh_ahead: float | None = 0.8,
    ) -> str: ...
    def atoken(
        self,
        name: str,
        fetch_token: Callable[[], dict[str, Any] | str | Awaitable[dict[str, Any] | str]],
        *,
        skew: float = 30000,
        refresh_ahead: float | None = 0.8,
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
class _Op:
    def step(self, waker: _LoopWaker) -> tuple[int, Any]: ...
    def drive_blocking(self, get_value: object) -> None: ...
    def run_loader(self, f: Callable[[], _T]) -> _T: ...
    def loaded(self, value: object) -> None: ...
    def failed(self, exc: BaseException) -> None: ...
    def close(self) -> None: ...
    @property
    def id(self) -> int: ...
    @property
    def flight_id(self) -> int | None: ...
    @property
    def done(self) -> bool: ...

@final
class _LoopWaker:
    def __new__(cls) -> _LoopWaker: ...
    def fileno(self) -> int: ...
    def drain(self) -> list[int]: ...

def _call_key(name: str, args: tuple[Any, ...], kwargs: dict[str, Any] | None = None) -> str: ...
def _path_key(name: str, first: object, paths: list[str]) -> str: ...
def _after_fork_in_child() -> None: ...
def _purge_all() -> int: ...

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
