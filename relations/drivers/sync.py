"""The sync driver: tasks run on Django's connection in the calling thread."""

from __future__ import annotations

from typing import Any, TypeVar

from ..loaders.tasks import Loader, Task
from .core import run_sync

T = TypeVar("T")


def evaluate(task: Task) -> list[Any]:
    """Run one task with Django's ORM: the rows of its QuerySet."""
    return list(task.queryset)


def run(loader: Loader[T]) -> T:
    """Run ``loader`` to completion in this thread."""
    return run_sync(loader, evaluate)
