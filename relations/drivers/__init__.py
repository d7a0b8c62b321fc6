"""Drivers: the only code that runs queries.  A driver never knows which relation it loads.

``run_sync(loader)`` and ``await run_async(loader)`` are what the API calls; the
async face picks its driver from ``RELATIONS["ASYNC_DRIVER"]`` ("auto" and
"thread" both mean the thread driver until native drivers exist).
"""

from __future__ import annotations

from typing import TypeVar

from ..loaders.tasks import Loader
from . import sync, thread

T = TypeVar("T")


def run_sync(loader: Loader[T]) -> T:
    """Run ``loader`` in this thread on Django's connection."""
    return sync.run(loader)


async def run_async(loader: Loader[T]) -> T:
    """Run ``loader`` from async code on the configured async driver."""
    return await thread.run(loader)
