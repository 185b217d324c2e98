"""Where the core's background work runs in Python (``Step::Spawn``): a refresh of a value
served stale or ahead of its expiry, or a load its caller stopped waiting for
(``soft_timeout`` / ``hard_timeout``).

No rule lives here: the core decides what runs in the background and when it ends. A
synchronous ``get`` hands the work to a daemon thread (the loader runs where a
synchronous loader runs, on a thread, and never keeps the process alive at exit); an
``aget`` hands it to a task of the caller's event loop. Its answer goes nowhere; a failure
is counted in the stats (``refresh_errors``, ``load_errors``), never raised.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

# Tasks in flight: the event loop holds tasks weakly, and a refresh must not be collected
# half-way.
_tasks: set[asyncio.Task[Any]] = set()


def _drive_quietly(op: Any, get_value: Any) -> None:
    try:
        op.drive_blocking(get_value)
    except BaseException:  # noqa: BLE001 - counted by the core; nobody waits for it
        pass


def in_thread(op: Any, get_value: Any) -> None:
    threading.Thread(
        target=_drive_quietly,
        args=(op, get_value),
        name="flightcache-background-load",
        daemon=True,
    ).start()


def in_task(op: Any, get_value: Any) -> None:
    from flightcache import _aio

    task = asyncio.get_running_loop().create_task(_aio.drive(op, get_value))
    _tasks.add(task)
    task.add_done_callback(_done)


def _done(task: asyncio.Task[Any]) -> None:
    _tasks.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved: a failed refresh is counted, not reported
