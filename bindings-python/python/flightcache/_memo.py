"""``Cache.memoize``: a decorator over ``Cache.get`` / ``Cache.aget``.

The key of a call is built by the core (``flightcache::memo``): the function's qualified
name plus a canonical encoding of the arguments (dict keys sorted at every depth), or of
what ``key`` picks.
"""

from __future__ import annotations

import functools
import inspect
import itertools
from typing import Any, Callable

from flightcache import _native
from flightcache.exceptions import WrongTypeError

_anonymous = itertools.count(1)


def _name(fn: Callable[..., Any]) -> str:
    module = getattr(fn, "__module__", None) or "?"
    qualname = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
    if not qualname or "<lambda>" in qualname:
        # An anonymous function gets a prefix of its own wrapper: two never share entries.
        return f"{module}.<anonymous#{next(_anonymous)}>"
    return f"{module}.{qualname}"


def memoize(
    cache: Any, ttl: Any = None, key: Any = None, policy: dict[str, Any] | None = None
) -> Callable[[Callable[..., Any]], Any]:
    policy = policy or {}
    if key is None:
        make_key: Callable[[str, tuple[Any, ...], dict[str, Any]], str] = _native._call_key
    elif callable(key):
        key_fn = key

        def make_key(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
            return _native._call_key(name, (key_fn(*args, **kwargs),))

    elif isinstance(key, (list, tuple)) and all(isinstance(p, str) for p in key):
        paths = list(key)

        def make_key(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
            return _native._path_key(name, args[0] if args else None, paths)

    else:
        raise WrongTypeError(
            "memoize key must be a function or a list of dotted paths (str), "
            f"not {type(key).__name__}"
        )

    def decorate(fn: Callable[..., Any]) -> Any:
        if not callable(fn):
            raise WrongTypeError(f"memoize wraps a function, not {type(fn).__name__}")
        name = _name(fn)
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                k = make_key(name, args, kwargs)
                return await cache.aget(k, lambda: fn(*args, **kwargs), ttl, **policy)

            async_wrapper.cache_key = lambda *a, **kw: make_key(name, a, kw)  # type: ignore[attr-defined]
            return async_wrapper

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return cache.get(
                make_key(name, args, kwargs), lambda: fn(*args, **kwargs), ttl, **policy
            )

        wrapper.cache_key = lambda *a, **kw: make_key(name, a, kw)  # type: ignore[attr-defined]
        return wrapper

    return decorate
