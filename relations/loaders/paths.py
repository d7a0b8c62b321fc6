"""Composed loaders: a relation path for a batch, ``R()`` and ``aprefetch()``.

Everything is batch-first: a hop runs one query per (relation, database) for all
the instances that still need it, whatever their number; ``R()`` is a batch of one.
The top-level loaders own a ``Pending`` unit of work and commit it only after
their last query, so a failure or a cancellation writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

from django.db.models import Model, Prefetch, QuerySet
from django.db.models.query import ModelIterable

from .. import peers
from ..errors import UnknownRelation
from . import resolve
from .pending import MISSING, Pending
from .strategies import Strategy, Through, ToAttr
from .tasks import Fetch, Loader

HopValues = dict[int, Any]


def _groups(instances: Iterable[Model], key: Any) -> dict[Any, list[Model]]:
    groups: dict[Any, list[Model]] = {}
    for inst in instances:
        groups.setdefault(key(inst), []).append(inst)
    return groups


def _distinct(objects: Iterable[Model]) -> list[Model]:
    seen: set[int] = set()
    out = []
    for obj in objects:
        if id(obj) not in seen:
            seen.add(id(obj))
            out.append(obj)
    return out


def _flatten(values: Iterable[Any]) -> list[Model]:
    out: list[Model] = []
    for value in values:
        if isinstance(value, list):
            out.extend(value)
        elif value is not None:
            out.append(value)
    return out


def split_prefetches(queryset: QuerySet[Any] | None) -> tuple[QuerySet[Any] | None, tuple[Any, ...]]:
    """Take a queryset's own prefetch_related lookups off it: loaders run them."""
    qs: Any = queryset
    if qs is None or not qs._prefetch_related_lookups:
        return queryset, ()
    lookups = tuple(qs._prefetch_related_lookups)
    qs = qs._chain()
    qs._prefetch_related_lookups = ()
    return qs, lookups


def load_hop(
    instances: Sequence[Model],
    strategy: Strategy,
    pending: Pending,
    queryset: QuerySet[Any] | None = None,
    refresh: bool = False,
    with_peers: bool = False,
    *,
    followed: bool = False,
) -> Loader[HopValues]:
    """Load one relation on a batch; return ``{id(instance): value}`` (nothing written yet).

    ``with_peers``: instances that need the query bring their live peers that need it too.
    ``followed``: later hops load on these values, so the commit must know which
    values were read from the cache (it follows them if another load replaced them).
    """
    values: HopValues = {}
    todo = []
    read = []
    known = pending.of(strategy.key)
    needs_load = strategy.needs_load
    for inst in instances:
        entry = known.get(id(inst)) if known else None
        if entry is not None:
            values[id(inst)] = entry[1]
        elif needs_load(inst, refresh):
            todo.append(inst)
        else:
            values[id(inst)] = strategy.read(inst)
            if followed:
                read.append(inst)
    if read:
        pending.note_read(read, values, strategy.cached)
    if not todo:
        return values
    if with_peers:
        todo.extend(_peers_to_load(todo, strategy, pending))
    inner: tuple[Any, ...] = ()
    if isinstance(queryset, QuerySet):
        queryset, inner = split_prefetches(queryset)

    def write(inst: Model, value: Any) -> None:
        strategy.write(inst, value, queryset)

    fetched_rows: list[Model] = []
    for group in _groups(todo, lambda i: i._state.db).values():
        fetched = yield from strategy.fetch(group, queryset, pending)
        # A refresh or a narrowed queryset replaces cached objects; a plain load keeps them.
        replace = refresh or queryset is not None
        pending.add_many(strategy.key, group, fetched, write, cached=strategy.cached, replace=replace)
        values.update(fetched)
        if inner:
            fetched_rows.extend(_flatten(fetched[id(i)] for i in group))
    if inner:
        yield from load_lookups(_distinct(fetched_rows), inner, pending)
    return values


def _strategy(model: type[Model], name: str, path: str, group: list[Model], pending: Pending) -> Strategy:
    try:
        return resolve.strategy(model, name, path)
    except UnknownRelation:
        # Django lets a lookup continue through an earlier Prefetch's to_attr.
        through = Through(name)
        if all(pending.get(i, through.key) is not MISSING or name in i.__dict__ for i in group):
            return through
        raise


def load_path(
    instances: Sequence[Model],
    path: str,
    pending: Pending,
    queryset: QuerySet[Any] | None = None,
    to_attr: str | None = None,
    refresh: bool = False,
    with_peers: bool = False,
) -> Loader[list[HopValues]]:
    """Load every hop of ``path`` on ``instances``; ``queryset``/``to_attr`` apply to the last.

    ``with_peers``: every hop also loads for the live peers of the instances it queries.
    """
    hops = resolve.split_path(path)
    per_hop = []
    current: list[Model] = list(instances)
    for index, name in enumerate(hops):
        last = index == len(hops) - 1
        values: HopValues = {}
        # Targets of a generic foreign key can be of several models, while proxies
        # and MTI children share their parent's relation: one batch per relation.
        batches: dict[Any, tuple[Strategy, list[Model]]] = {}
        for model, group in _groups(current, type).items():
            strategy = _strategy(model, name, path, group, pending)
            if last and to_attr:
                strategy = ToAttr(strategy, to_attr)
            batches.setdefault(strategy.key, (strategy, []))[1].extend(group)
        for strategy, group in batches.values():
            hop = yield from load_hop(
                group, strategy, pending, queryset if last else None, refresh, with_peers, followed=not last
            )
            values.update(hop)
        per_hop.append(values)
        if not last:
            current = _distinct(_flatten(values[id(i)] for i in current))
    return per_hop


class Loaded(NamedTuple):
    """What a committed batch loaded: the values per hop, and what the commit kept instead."""

    per_hop: list[HopValues]
    kept: Callable[[Model, Any], Any]  # (parent, loaded value) -> the object cached on parent


def end_value(root: Model, loaded: Loaded, many: bool = False) -> Any:
    """What ``R(root, path)`` returns: the object at the end, or the distinct list.

    ``many``: the path has a to-many hop, so the answer is a list even when an earlier
    hop is None (``editor__books`` with no editor is ``[]``).  The objects are the
    ones cached along the root's path once committed (``Pending.kept``).
    """
    per_hop, kept = loaded
    current = [(root, root)]  # (object as loaded, object cached in its place)
    for values in per_hop:
        step: list[tuple[Model, Model]] = []
        seen: set[int] = set()
        for obj, cached in current:
            value = values[id(obj)]
            many = many or isinstance(value, list)
            for item in _flatten([value]):
                stands = kept(cached, item)
                if id(stands) not in seen:
                    seen.add(id(stands))
                    step.append((item, stands))
        current = step
    if many:
        rows: set[Any] = set()
        out = []
        for _, obj in current:  # distinct by identity in the database, in load order
            key = (obj._meta.concrete_model, obj.pk) if obj.pk is not None else id(obj)
            if key not in rows:
                rows.add(key)
                out.append(obj)
        return out
    return current[0][1] if current else None


def _peers_to_load(todo: Sequence[Model], strategy: Strategy, pending: Pending) -> list[Model]:
    # Only instances that need a query look at their peers, so a loop of R() calls over
    # a fetched list walks the peers once, not once per instance.
    seen = {id(i) for i in todo}
    groups = {id(g): g for i in todo if (g := peers.group_of(i)) is not None}
    kinds = {type(i) for i in todo}
    out = []
    for group in groups.values():
        for peer in group.live():
            if (
                id(peer) not in seen
                and type(peer) in kinds
                and pending.get(peer, strategy.key) is MISSING
                and strategy.needs_load(peer)
            ):
                seen.add(id(peer))
                out.append(peer)
    return out


def load_batch(
    instances: Sequence[Model],
    path: str,
    queryset: QuerySet[Any] | None = None,
    refresh: bool = False,
    with_peers: bool = False,
) -> Loader[Loaded]:
    """Load ``path`` on ``instances`` (and their peers) and commit.

    ``R()`` is a batch of one; concurrent ``R()`` calls share one batch.
    """
    pending = Pending()
    per_hop = yield from load_path(instances, path, pending, queryset, refresh=refresh, with_peers=with_peers)
    pending.commit()
    return Loaded(per_hop, pending.kept)


def load_one(
    instance: Model,
    path: str,
    queryset: QuerySet[Any] | None = None,
    refresh: bool = False,
    with_peers: bool = False,
) -> Loader[Any]:
    """The loader behind ``R(instance, path)``."""
    loaded = yield from load_batch([instance], path, queryset, refresh, with_peers)
    return end_value(instance, loaded, resolve.is_many(type(instance), path))


def normalize_lookup(lookup: Any) -> tuple[str, Any, str | None]:
    """A ``str``, ``Prefetch`` or ``GenericPrefetch`` lookup as (path, queryset(s), to_attr).

    A GenericPrefetch gives a list of querysets, one per target model.
    """
    if isinstance(lookup, Prefetch):
        querysets = getattr(lookup, "querysets", None)  # GenericPrefetch
        return lookup.prefetch_through, querysets or lookup.queryset, lookup.to_attr
    if isinstance(lookup, str):
        return lookup, None, None
    raise TypeError(f"Lookups must be relation paths (str) or Prefetch objects, got {type(lookup).__name__}.")


def load_lookups(instances: Sequence[Model], lookups: Iterable[Any], pending: Pending) -> Loader[None]:
    """Load prefetch lookups on a batch into ``pending`` (no commit)."""
    for lookup in lookups:
        path, queryset, to_attr = normalize_lookup(lookup)
        yield from load_path(instances, path, pending, queryset, to_attr)


def prefetch_loader(source: Sequence[Model] | QuerySet[Any], lookups: Sequence[Any]) -> Loader[list[Model]]:
    """The loader behind ``aprefetch()``/``prefetch()``: returns the instances."""
    pending = Pending()
    if isinstance(source, QuerySet):
        if source._iterable_class is not ModelIterable:
            raise TypeError("aprefetch()/prefetch() need model instances, not values() rows.")
        queryset, inner = split_prefetches(source)
        assert queryset is not None
        instances: Sequence[Model] = yield Fetch(queryset)
        lookups = (*inner, *lookups)
    else:
        instances = source
    if instances:
        yield from load_lookups(instances, lookups, pending)
    pending.commit()
    return list(instances)
