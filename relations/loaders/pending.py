"""Pending writes: a loader's unit of work.

Loaders write nothing into Django's caches until every query they need has
succeeded; until then loaded values wait here, and later hops read them from here.
``commit()`` applies them all at the end, so an exception or a cancelled task
leaves every instance exactly as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import Model

MISSING: Any = object()


class Pending:
    """Values loaded but not yet written, keyed by (instance, relation key)."""

    __slots__ = ("_entries",)

    def __init__(self) -> None:
        # id(instance) is only a key while the entry holds the instance itself.
        self._entries: dict[tuple[int, Any], tuple[Model, Any, Callable[[Model, Any], None]]] = {}

    def get(self, instance: Model, key: Any) -> Any:
        """The pending value, or MISSING."""
        entry = self._entries.get((id(instance), key))
        return MISSING if entry is None else entry[1]

    def add(self, instance: Model, key: Any, value: Any, write: Callable[[Model, Any], None]) -> None:
        """Remember ``value`` for ``instance``; ``write(instance, value)`` commits it."""
        self._entries[(id(instance), key)] = (instance, value, write)

    def commit(self) -> None:
        """Write every pending value, in load order."""
        for instance, value, write in self._entries.values():
            write(instance, value)
        self._entries.clear()
