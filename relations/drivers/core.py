"""The driver core: run a loader to completion, one task at a time.

The loop is written once, as a coroutine.  An async driver awaits real work in its
``execute``; the sync face runs the very same coroutine with an ``execute`` that
never suspends, so it finishes on its first ``send()``.  A failure of a task
(including a cancellation) is thrown into the loader at the ``yield`` that asked
for it: the traceback shows which loader line wanted the query, and the loader,
which writes its caches only at its end, leaves every instance untouched.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from ..loaders.tasks import Loader, Task

T = TypeVar("T")
Execute = Callable[[Task], Awaitable[list[Any]]]


async def drive(loader: Loader[T], execute: Execute) -> T:
    """Run ``loader``, awaiting ``execute(task)`` for each task it yields."""
    result: list[Any] | None = None
    error: BaseException | None = None
    while True:
        try:
            if error is None:
                task = loader.send(result)  # type: ignore[arg-type]
            else:
                task, error = loader.throw(error), None
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        try:
            result = await execute(task)
        except BaseException as exc:
            error, result = exc, None


def run_sync(loader: Loader[T], execute: Callable[[Task], list[Any]]) -> T:
    """Run ``drive()`` without an event loop: ``execute`` is a plain function."""

    async def immediate(task: Task) -> list[Any]:
        return execute(task)

    coroutine = drive(loader, immediate)
    try:
        coroutine.send(None)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    coroutine.close()
    raise RuntimeError("The sync driver's execute() suspended; it must not await anything.")
