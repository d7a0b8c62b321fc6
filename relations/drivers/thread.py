"""The thread driver: each task runs through asgiref's ``sync_to_async``.

``thread_sensitive=True``, like Django's own ``a*`` ORM methods, so a task runs on
the same thread, hence the same connection and transaction, as the rest of the
request's sync ORM work.  Only the query hops to the thread; the loader itself
(and its final cache writes) runs in the event loop, so a cancellation between
tasks or during one writes nothing.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async

from ..loaders.tasks import Task
from .sync import evaluate

_evaluate_in_thread = sync_to_async(evaluate, thread_sensitive=True)


async def execute(task: Task) -> list[Any]:
    """Run one task on Django's connection in asgiref's thread."""
    return await _evaluate_in_thread(task)
