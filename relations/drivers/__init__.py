"""Drivers: the only code that runs queries.  A driver never knows which relation it loads.

``run_sync(loader)`` and ``await run_async(loader)`` are what the API calls.  Every
async driver is an ``execute(task)`` coroutine function run by the one loop in
``core.drive()``; ``RELATIONS["ASYNC_DRIVER"]`` picks it:

* ``"native"``: aiosqlite / psycopg connections in the event loop (``native``);
* ``"thread"``: Django's connection through asgiref's ``sync_to_async`` (``thread``);
* ``"auto"`` (default): native where that cannot change a result (``auto``).
"""

from __future__ import annotations

from typing import TypeVar

from ..conf import config
from ..loaders.tasks import Loader
from . import auto, native, sync, thread
from .core import Execute, drive

T = TypeVar("T")

ASYNC_DRIVERS: dict[str, Execute] = {"auto": auto.execute, "native": native.execute, "thread": thread.execute}


def run_sync(loader: Loader[T]) -> T:
    """Run ``loader`` in this thread on Django's connection."""
    return sync.run(loader)


async def run_async(loader: Loader[T], driver: str | None = None) -> T:
    """Run ``loader`` from async code on ``driver`` (default: the configured one)."""
    return await drive(loader, ASYNC_DRIVERS[driver or config().async_driver])
