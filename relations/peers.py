"""Peers: the instances that one queryset evaluation produced together.

The ``n_plus_one`` mode needs to know whether an instance came from a multi-row
result, and batch loading of peers builds on the same fact.  Django 5.2 keeps no
such record and Django 6.1 keeps one only under ``FETCH_PEERS``, so the model
iterables are wrapped once (by the app's ``ready()``) to give every instance they
yield a shared ``PeerGroup``.  Instances that ``select_related`` built inside those
rows join a group per relation path, so ``book.author.publisher`` in a loop is
still recognised as N+1.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from typing import Any

from django.db.models import Model
from django.db.models.query import ModelIterable, RawModelIterable

ATTRIBUTE = "relations_peers"


class PeerGroup(list["weakref.ref[Model]"]):
    """Weak references to instances fetched together.

    Pickles as an empty group: weak references cannot be pickled, and an unpickled
    instance has no live peers anyway.
    """

    __slots__ = ("__weakref__",)

    def __reduce__(self) -> tuple[Any, ...]:
        return (PeerGroup, ())

    def live(self) -> list[Model]:
        """The peers that are still alive, in fetch order."""
        return [obj for ref in self if (obj := ref()) is not None]


def group_of(instance: Model) -> PeerGroup | None:
    """The peer group of ``instance``, or None if no queryset produced it."""
    return instance._state.__dict__.get(ATTRIBUTE)


def fetched_with_others(instance: Model) -> bool:
    """True when ``instance`` came from a result with more than one row."""
    group = group_of(instance)
    return group is not None and len(group) > 1


def _join(obj: Model, group: PeerGroup) -> None:
    obj._state.__dict__[ATTRIBUTE] = group
    group.append(weakref.ref(obj))


def _join_related(obj: Model, groups: dict[tuple[str, ...], PeerGroup], path: tuple[str, ...]) -> None:
    # Objects that select_related attached to this row: fields_cache holds them.
    for name, related in obj._state.fields_cache.items():
        if isinstance(related, Model) and ATTRIBUTE not in related._state.__dict__:
            sub = (*path, name)
            group = groups.get(sub)
            if group is None:
                group = groups[sub] = PeerGroup()
            _join(related, group)
            _join_related(related, groups, sub)


def _tracking(original: Callable[[Any], Iterator[Model]]) -> Callable[[Any], Iterator[Model]]:
    def tracked_iter(self: Any) -> Iterator[Model]:
        group = PeerGroup()
        related_groups: dict[tuple[str, ...], PeerGroup] = {}
        select_related = bool(getattr(getattr(self.queryset, "query", None), "select_related", False))
        for obj in original(self):
            _join(obj, group)
            if select_related:
                _join_related(obj, related_groups, ())
            yield obj

    tracked_iter.__wrapped__ = original  # type: ignore[attr-defined]
    return tracked_iter


def install() -> None:
    """Wrap Django's model iterables (idempotent)."""
    iterable: Any
    for iterable in (ModelIterable, RawModelIterable):
        if not hasattr(iterable.__iter__, "__wrapped__"):
            iterable.__iter__ = _tracking(iterable.__iter__)
