"""asyncio glue for ``Cache.aget``: runs an async loader, and waits for another caller's load.

No cache rule lives here: the native cache decides who loads, stores the result and says
when a load is reentrant; this module only awaits things on the right event loop.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import threading
from typing import Any

# The flights the current task is loading (ids), so that a loader asking for its own key is
# told so instead of waiting for itself. Tasks started inside a loader inherit it.
LOADING: contextvars.ContextVar[tuple[int, ...]] = contextvars.ContextVar(
    "flightcache_loading", default=()
)

# The thread whose event loop runs each async load in progress (flight id -> thread id): a
# blocking get() on that thread would wait for a load that its own blocked loop must finish.
_async_leads: dict[int, int] = {}

# One future per (flight, event loop): every waiter of that loop awaits it.
_shared: dict[tuple[int, int], asyncio.Future[Any]] = {}
_lock = threading.Lock()


def lead(handle: Any, get_value: Any) -> Any:
    """The awaitable that runs ``get_value`` as the loader of ``handle``'s flight."""
    return _drive(handle, get_value)


def blocks_this_thread(flight_id: int) -> bool:
    """Whether the load of `flight_id` runs on this thread's event loop."""
    return _async_leads.get(flight_id) == threading.get_ident()


async def _drive(handle: Any, get_value: Any) -> Any:
    fid = handle.flight_id
    token = LOADING.set(LOADING.get() + (fid,))
    _async_leads[fid] = threading.get_ident()
    try:
        try:
            if callable(get_value) and not inspect.isawaitable(get_value):
                result = handle.run(get_value)
                if inspect.isawaitable(result):
                    result = await result
            else:
                result = await get_value
        except asyncio.CancelledError:
            handle.abort("the loader was cancelled")
            raise
        except BaseException as e:
            handle.fail(e)
            raise
        return handle.complete(result)
    finally:
        LOADING.reset(token)
        _async_leads.pop(fid, None)
        if not handle.done:
            handle.abort("the loader ended without a result")


def wait(waiter: Any) -> Any:
    """The awaitable that waits for another caller's load, on the running loop."""
    loop = asyncio.get_running_loop()
    k = (waiter.flight_id, id(loop))
    with _lock:
        fut = _shared.get(k)
        fresh = fut is None
        if fut is None:
            fut = loop.create_future()
            _shared[k] = fut
    if fresh:

        def done(ok: bool, payload: Any, fut: asyncio.Future[Any] = fut) -> None:
            with _lock:
                if _shared.get(k) is fut:
                    del _shared[k]
            _settle_from_any_thread(loop, fut, ok, payload)

        waiter.on_complete(done)
    return _await(fut, waiter)


def _settle(fut: asyncio.Future[Any], ok: bool, payload: Any) -> None:
    if fut.done():
        return
    if ok:
        fut.set_result(payload)
    else:
        fut.set_exception(payload)
        fut.exception()  # waiters that gave up must not leave "never retrieved" warnings


def _settle_from_any_thread(
    loop: asyncio.AbstractEventLoop, fut: asyncio.Future[Any], ok: bool, payload: Any
) -> None:
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        _settle(fut, ok, payload)
        return
    try:
        loop.call_soon_threadsafe(_settle, fut, ok, payload)
    except RuntimeError:
        pass  # the loop is closed: nobody is left to wait


async def _await(fut: asyncio.Future[Any], waiter: Any) -> Any:
    timeout = waiter.timeout
    if timeout is None:
        return await asyncio.shield(fut)
    try:
        return await asyncio.wait_for(asyncio.shield(fut), timeout)
    except asyncio.TimeoutError:
        if fut.done():
            raise
        raise waiter.timeout_error() from None
