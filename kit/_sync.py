"""Run blocking or async work from synchronous code, even where an event loop is already running.

Jupyter kernels run their own loop in the cell's thread, so ``asyncio.run`` (or anything that starts
an event loop, such as nbclient) would fail there; in that case the work runs in a short-lived worker
thread instead.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def call_off_loop(func: Callable[[], T]) -> T:
    """Call ``func()`` here, or in a worker thread when this thread runs an event loop; return its result."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return func()
    outcome: dict[str, Any] = {}

    def _worker() -> None:
        try:
            outcome["value"] = func()
        except BaseException as exc:  # re-raised in the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=_worker, name="loop-lab-sync", daemon=True)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on a new event loop and return its result (the sync twin of ``await coro``)."""
    return call_off_loop(lambda: asyncio.run(coro))
