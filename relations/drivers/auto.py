"""The ``"auto"`` driver: native where that cannot change a result, else the thread driver.

A task stays on the thread driver, i.e. on Django's own connection, when:

* the database has no native driver (another backend, an in-memory SQLite);
* Django's connection of the calling context is inside ``atomic()`` (which
  includes ``TestCase``): another connection would not see its uncommitted rows;
* a tool has hooked Django's cursors (debug toolbar, APM agents), which only
  Django's own execution path goes through;
* the query cannot be compiled without sync I/O.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import SynchronousOnlyOperation

from ..loaders.tasks import Fetch
from . import native, observe, thread
from .statement import compile_task


async def execute(task: Fetch) -> list[Any]:
    """Run one task natively when that is safe, else on the thread driver."""
    alias = task.using
    calling = observe.calling_connection(alias)
    if native.unsupported(alias) or observe.in_transaction(calling) or observe.watched(calling):
        return await thread.execute(task)
    found = await native.prepare(alias)
    try:
        statement = compile_task(task, observe.loop_connection(alias))
    except SynchronousOnlyOperation:
        return await thread.execute(task)
    return await native.run(statement, found, calling)
