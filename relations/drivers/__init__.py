"""Drivers: the only code that runs queries.  A driver never knows which relation it loads.

``run_sync(loader)`` and ``await run_async(loader)`` are what the API calls.  The
async face picks its driver from ``RELATIONS["ASYNC_DRIVER"]``: "auto" and "thread"
both mean the thread driver until native drivers exist.  Every async driver is an
``execute(task)`` coroutine function run by the one loop in ``core.drive()``.
"""

from __future__ import annotations

from typing import TypeVar

from ..conf import config
from ..loaders.tasks import Loader
from . import sync, thread
from .core import Execute, drive

T = TypeVar("T")

ASYNC_DRIVERS: dict[str, Execute] = {"auto": thread.execute, "thread": thread.execute}


def run_sync(loader: Loader[T]) -> T:
    """Run ``loader`` in this thread on Django's connection."""
    return sync.run(loader)


async def run_async(loader: Loader[T]) -> T:
    """Run ``loader`` from async code on the configured async driver."""
    return await drive(loader, ASYNC_DRIVERS[config().async_driver])
