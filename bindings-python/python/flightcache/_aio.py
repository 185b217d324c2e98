"""asyncio glue: drives the core's operations (``_native._Op``) from a task.

No cache rule lives here: the core decides who loads, when to read the store, when a caller
times out and what the answer is; this module runs the loader on the running event loop,
awaits what the core says to await, and is woken through a pipe the loop watches (the
core wakes a parked operation from any thread without running Python there).
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import os
import threading
import weakref
from typing import Any

from flightcache import _background, _native

# The flights the current task is loading (ids), so that a loader asking for its own key is
# told so instead of waiting for itself. Tasks started inside a loader inherit it.
LOADING: contextvars.ContextVar[tuple[int, ...]] = contextvars.ContextVar(
    "flightcache_loading", default=()
)

# The thread whose event loop runs each async load in progress (flight id -> thread id): a
# blocking get() on that thread would wait for a load that its own blocked loop must finish.
_async_leads: dict[int, int] = {}

_DONE, _FAILED, _RUN_LOADER, _PARK, _SPAWN = 0, 1, 2, 3, 4


class _Wakeups:
    """One per event loop: the pipe the core writes to, and the futures it resolves."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.native = _native._LoopWaker()
        self.futures: dict[int, asyncio.Future[None]] = {}
        loop.add_reader(self.native.fileno(), self._drain)

    def _drain(self) -> None:
        for op_id in self.native.drain():
            fut = self.futures.pop(op_id, None)
            if fut is not None and not fut.done():
                fut.set_result(None)

    def future(self, loop: asyncio.AbstractEventLoop, op_id: int) -> asyncio.Future[None]:
        fut = self.futures.get(op_id)
        if fut is None or fut.done():
            fut = loop.create_future()
            self.futures[op_id] = fut
        return fut


_wakeups: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Wakeups] = (
    weakref.WeakKeyDictionary()
)


def _wakeups_of(loop: asyncio.AbstractEventLoop) -> _Wakeups:
    w = _wakeups.get(loop)
    if w is None:
        w = _Wakeups(loop)
        _wakeups[loop] = w
    return w


def blocks_this_thread(flight_id: int) -> bool:
    """Whether the load of `flight_id` runs on this thread's event loop."""
    return _async_leads.get(flight_id) == threading.get_ident()


def _close_unused(get_value: Any) -> None:
    """A coroutine made for a load that another caller ran: close it, so that Python does
    not warn that it was never awaited."""
    if get_value is not None and not callable(get_value) and hasattr(get_value, "close"):
        try:
            get_value.close()
        except Exception:  # noqa: BLE001 - a Task or Future has nothing to close
            pass


async def _run_loader(op: Any, get_value: Any) -> None:
    fid = op.flight_id
    token = LOADING.set(LOADING.get() + (fid,))
    _async_leads[fid] = threading.get_ident()
    try:
        try:
            if callable(get_value) and not inspect.isawaitable(get_value):
                result = op.run_loader(get_value)
                if inspect.isawaitable(result):
                    result = await result
            else:
                result = await get_value
        except asyncio.CancelledError:
            raise
        except BaseException as e:  # noqa: BLE001 - every failure is the flight's
            op.failed(e)
            return
        op.loaded(result)
    finally:
        LOADING.reset(token)
        _async_leads.pop(fid, None)


async def drive(op: Any, get_value: Any) -> Any:
    """Runs one operation of the core to its answer on the running event loop."""
    loop = asyncio.get_running_loop()
    wakeups = _wakeups_of(loop)
    used = False
    try:
        while True:
            kind, payload = op.step(wakeups.native)
            if kind == _DONE:
                return payload
            if kind == _FAILED:
                raise payload
            if kind == _RUN_LOADER:
                used = True
                await _run_loader(op, get_value)
                continue
            if kind == _SPAWN:
                # Background work of this call (a refresh, a load past a timeout): it runs
                # the loader, so this call does not close it.
                used = True
                _background.in_task(payload, get_value)
                continue
            fut = wakeups.future(loop, op.id)
            if payload is None:
                await fut
            else:
                try:
                    await asyncio.wait_for(asyncio.shield(fut), payload)
                except asyncio.TimeoutError:
                    pass
    finally:
        # Cancelled or finished: a load this task led is taken over by one of its waiters.
        op.close()
        wakeups.futures.pop(op.id, None)
        if not used:
            _close_unused(get_value)


def _after_fork_in_child() -> None:
    _async_leads.clear()
    _wakeups.clear()
    _native._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
