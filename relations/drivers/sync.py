"""The sync driver: tasks run on Django's connection in the calling thread."""

from __future__ import annotations

from typing import Any, TypeVar

from django.db import connections

from ..loaders.tasks import Loader, Task
from .core import run_sync
from .statement import compile_task, materialize

T = TypeVar("T")


def evaluate(task: Task) -> list[Any]:
    """Run one task with Django's ORM: the rows of its QuerySet.

    A task with a shape runs its (possibly reused) compiled SQL through a Django
    cursor, so it is executed, logged and wrapped exactly as the ORM would.
    """
    if task.shape is None:
        return list(task.queryset)
    statement = compile_task(task)
    if statement.sql is None:
        return []
    with connections[task.using].cursor() as cursor:
        cursor.execute(statement.sql, statement.params)
        rows = cursor.fetchall()
    return materialize(statement, rows)


def run(loader: Loader[T]) -> T:
    """Run ``loader`` to completion in this thread."""
    return run_sync(loader, evaluate)
