"""The exceptions flightcache raises.

``FlightcacheError`` is the base of them all. Bad arguments are also ``ValueError`` or
``TypeError``, and a load timeout is also ``TimeoutError``, so code that catches the builtin
classes keeps working. An exception raised by your loader (``get_value``) is not wrapped: every
caller of that load receives the very same exception object.
"""

from __future__ import annotations

__all__ = [
    "FlightcacheError",
    "InvalidArgumentError",
    "WrongTypeError",
    "LoadTimeoutError",
    "ReentrantLoadError",
    "LoaderError",
    "KeyNotFoundError",
]


class FlightcacheError(Exception):
    """Base class of every error raised by flightcache itself."""

    #: The language-neutral name of the error, the same in the Node package.
    kind: str = "flightcache_error"


class InvalidArgumentError(FlightcacheError, ValueError):
    """A value of the right type but outside what is allowed (a negative TTL, a zero bound)."""

    kind = "invalid_argument"


class WrongTypeError(FlightcacheError, TypeError):
    """A value of the wrong type (a key that is not a str, ``incr`` on a non-integer)."""

    kind = "wrong_type"


class LoadTimeoutError(FlightcacheError, TimeoutError):
    """A caller waited longer than ``load_timeout`` for another caller's load."""

    kind = "timeout"


class ReentrantLoadError(FlightcacheError, RuntimeError):
    """A loader asked the cache for the very key it is loading (this would wait forever)."""

    kind = "reentrant"


class LoaderError(FlightcacheError):
    """A load ended without a result of its own: it was cancelled, or its loader was dropped."""

    kind = "loader_error"


class KeyNotFoundError(FlightcacheError, KeyError):
    """A call that needs a live value found none (``incr(key, must_exist=True)``)."""

    kind = "not_found"

    def __str__(self) -> str:
        # KeyError shows its argument's repr; this error's argument is a sentence.
        return str(self.args[0]) if self.args else ""
