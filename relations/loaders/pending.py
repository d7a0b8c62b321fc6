"""Pending writes: a loader's unit of work.

Loaders write nothing into Django's caches until every query they need has
succeeded; until then loaded values wait here, and later hops read them from here.
``commit()`` applies them all at the end, so an exception or a cancelled task
leaves every instance exactly as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.db.models import Model

MISSING: Any = object()
Write = Callable[[Model, Any], None]


class Pending:
    """Values loaded but not yet written, by relation key, then by instance."""

    __slots__ = ("_by_key",)

    def __init__(self) -> None:
        # id(instance) is only a key while the entry holds the instance itself.
        self._by_key: dict[Any, tuple[Write, dict[int, tuple[Model, Any]]]] = {}

    def get(self, instance: Model, key: Any) -> Any:
        """The pending value, or MISSING."""
        found = self._by_key.get(key)
        if found is None:
            return MISSING
        entry = found[1].get(id(instance))
        return MISSING if entry is None else entry[1]

    def of(self, key: Any) -> Mapping[int, tuple[Model, Any]]:
        """The pending ``{id(instance): (instance, value)}`` of one relation key."""
        found = self._by_key.get(key)
        return {} if found is None else found[1]

    def add(self, instance: Model, key: Any, value: Any, write: Write) -> None:
        """Remember ``value`` for ``instance``; ``write(instance, value)`` commits it."""
        self.add_many(key, [instance], {id(instance): value}, write)

    def add_many(self, key: Any, instances: Iterable[Model], values: Mapping[int, Any], write: Write) -> None:
        """``add()`` for each of ``instances``, with its value from ``values[id(instance)]``."""
        found = self._by_key.get(key)
        if found is None:
            found = self._by_key[key] = (write, {})
        entries = found[1]
        for instance in instances:
            entries[id(instance)] = (instance, values[id(instance)])

    def commit(self) -> None:
        """Write every pending value, relation by relation in load order."""
        for write, entries in self._by_key.values():
            for instance, value in entries.values():
                write(instance, value)
        self._by_key.clear()
