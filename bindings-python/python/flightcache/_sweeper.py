"""Reclaims expired entries of caches nobody calls, as the Node package's timer does.

One daemon thread per process asks every live cache to purge what has expired, every
``SWEEP_POLL_MS``; the core's sweep schedule decides whether there is anything to do, so an
idle cache costs one cheap check per poll. The thread holds the interpreter only while it
asks (it is a Python thread: cached objects dropped there are dropped safely).
"""

from __future__ import annotations

import os
import threading
import time

from flightcache import _native

_POLL_S = _native.SWEEP_POLL_MS / 1000
_lock = threading.Lock()
_thread: threading.Thread | None = None


def start() -> None:
    """Starts the thread once per process (again in a forked child)."""
    global _thread
    if _thread is not None and _thread.is_alive():
        return
    with _lock:
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_run, name="flightcache-sweeper", daemon=True)
            _thread.start()


def _run() -> None:
    while True:
        time.sleep(_POLL_S)
        try:
            _native._purge_all()
        except Exception:  # noqa: BLE001 - a sweep must never end the thread
            pass


def _after_fork_in_child() -> None:
    global _thread
    _thread = None
    start()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
