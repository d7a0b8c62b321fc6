"""Pending writes: a loader's unit of work.

Loaders write nothing into Django's caches until every query they need has
succeeded; until then loaded values wait here, and later hops read them from here.
``commit()`` applies them all at the end, so an exception or a cancelled task
leaves every instance exactly as it was.

Other loads may commit while this one waits for its queries (concurrent ``R()``
calls, ``aprefetch()``, peers).  So the commit merges rather than overwrites, in
load order, hop after hop:

* a plain load whose relation is already cached with the same rows (same model and
  primary key) keeps the cached objects, and the later hops of this load are
  attached to the kept objects: to each of them, when several parents had their own
  copy of the row (``kept()`` says which object a parent got);
* a hop this load read from the cache, and that another load has since replaced
  with an object of the same row, is followed to that object the same way;
* a load that must replace what is cached (``refresh=True``, a ``queryset=``) gives
  the new objects the relations that the old ones had loaded and they lack.

So every hop of every successful load stays readable, and the objects that were
already cached stay the ones cached.  The commit is all-or-nothing: when a write
fails (a ``to_attr`` whose setter raises), every instance it touched is restored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.db.models import Model

MISSING: Any = object()
Write = Callable[[Model, Any], None]
Cached = Callable[[Model], Any]  # the value cached now, or MISSING (never queries)


def _identity(obj: Model) -> Any:
    return (obj._meta.concrete_model, obj.pk) if obj.pk is not None else id(obj)


def _objects(value: Any) -> list[Model]:
    if isinstance(value, list):
        return value
    return [value] if isinstance(value, Model) else []


class _Batch:
    """Values of one relation for some instances, added together."""

    __slots__ = ("cached", "entries", "replace", "write")

    def __init__(self, write: Write | None, cached: Cached | None, replace: bool) -> None:
        self.write = write  # None: values read from the cache, nothing to write
        self.cached = cached  # None: write without merging (key columns)
        self.replace = replace
        self.entries: list[tuple[Model, Any]] = []


class _Undo:
    """What the commit changed, to put back if a write fails."""

    __slots__ = ("_saved",)

    def __init__(self) -> None:
        self._saved: dict[int, tuple[Model, dict[str, Any], dict[str, Any], dict[str, Any] | None]] = {}

    def touch(self, objects: Iterable[Model]) -> None:
        saved = self._saved
        for obj in objects:
            if id(obj) not in saved:
                prefetched = obj.__dict__.get("_prefetched_objects_cache")
                saved[id(obj)] = (
                    obj,
                    dict(obj.__dict__),
                    dict(obj._state.fields_cache),
                    None if prefetched is None else dict(prefetched),
                )

    def restore(self) -> None:
        for obj, attrs, fields_cache, prefetched in self._saved.values():
            obj.__dict__.clear()
            obj.__dict__.update(attrs)
            obj._state.fields_cache = fields_cache
            if prefetched is not None:  # the same dict object, changed in place
                attrs["_prefetched_objects_cache"].clear()
                attrs["_prefetched_objects_cache"].update(prefetched)


def _transplant(old: Model, new: Model) -> None:
    # What a replaced object had loaded and its replacement lacks; a forward key's
    # cache only where the key column still agrees (refresh_from_db's rule).
    new_cache = new._state.fields_cache
    for name, value in old._state.fields_cache.items():
        if name not in new_cache:
            field = _forward_field(type(old), name)
            if field is None or old.__dict__.get(field.attname) == new.__dict__.get(field.attname):
                new_cache[name] = value
    old_prefetched = old.__dict__.get("_prefetched_objects_cache")
    if old_prefetched:
        new_prefetched = new.__dict__.setdefault("_prefetched_objects_cache", {})
        for name, value in old_prefetched.items():
            new_prefetched.setdefault(name, value)


def _forward_field(model: type[Model], cache_name: str) -> Any:
    for field in model._meta.concrete_fields:
        if field.is_relation and field.name == cache_name:
            return field
    return None


class Pending:
    """Values loaded but not yet written, by relation key, then by instance."""

    __slots__ = ("_by_key", "_kept", "_log", "_targets")

    def __init__(self) -> None:
        # id(instance) is only a key while the entry holds the instance itself.
        self._by_key: dict[Any, dict[int, tuple[Model, Any]]] = {}
        self._log: list[_Batch] = []  # in load order: a hop's parents come before it
        # At commit, id(loaded object) -> (it, the objects that stand for it): the one
        # written, or the cached ones kept in its place (one per parent that had its
        # own copy of the row).  Later hops of the loaded object go to all of them.
        self._targets: dict[int, tuple[Model, list[Model]]] = {}
        # (id(parent written to), id(loaded value)) -> (parent, value, the object kept)
        self._kept: dict[tuple[int, int], tuple[Model, Model, Model]] = {}

    def get(self, instance: Model, key: Any) -> Any:
        """The pending value, or MISSING."""
        found = self._by_key.get(key)
        if found is None:
            return MISSING
        entry = found.get(id(instance))
        return MISSING if entry is None else entry[1]

    def of(self, key: Any) -> Mapping[int, tuple[Model, Any]]:
        """The pending ``{id(instance): (instance, value)}`` of one relation key."""
        return self._by_key.get(key) or {}

    def add(self, instance: Model, key: Any, value: Any, write: Write) -> None:
        """Remember ``value`` for ``instance``; ``write(instance, value)`` commits it as is."""
        self.add_many(key, [instance], {id(instance): value}, write)

    def add_many(
        self,
        key: Any,
        instances: Iterable[Model],
        values: Mapping[int, Any],
        write: Write,
        *,
        cached: Cached | None = None,
        replace: bool = False,
    ) -> None:
        """``add()`` for each of ``instances``, with its value from ``values[id(instance)]``.

        ``cached(instance)``: what the relation holds now (MISSING if not loaded), to
        merge with at commit; ``replace``: the new objects win over cached ones.
        """
        entries = self._by_key.setdefault(key, {})
        batch = _Batch(write, cached, replace)
        for instance in instances:
            value = values[id(instance)]
            entries[id(instance)] = (instance, value)
            batch.entries.append((instance, value))
        self._log.append(batch)

    def note_read(self, instances: Iterable[Model], values: Mapping[int, Any], cached: Cached) -> None:
        """Values that a hop read from the cache: later hops follow what is cached at commit."""
        batch = _Batch(None, cached, False)
        batch.entries.extend((instance, values[id(instance)]) for instance in instances)
        self._log.append(batch)

    def kept(self, parent: Model, value: Any) -> Any:
        """What the commit put on ``parent`` in place of the loaded object ``value``."""
        entry = self._kept.get((id(parent), id(value)))
        return entry[2] if entry is not None and entry[0] is parent and entry[1] is value else value

    def commit(self) -> None:
        """Write every pending value in load order, merged with what is cached now."""
        undo = _Undo()
        try:
            for batch in self._log:
                for instance, value in batch.entries:
                    for target in self._targets_of(instance):
                        self._apply(batch, target, value, undo)
        except BaseException:
            undo.restore()
            self._kept.clear()
            raise
        finally:
            self._log.clear()
            self._by_key.clear()
            self._targets.clear()

    def _targets_of(self, instance: Model) -> list[Model]:
        entry = self._targets.get(id(instance))
        return entry[1] if entry is not None and entry[0] is instance else [instance]

    def _apply(self, batch: _Batch, instance: Model, value: Any, undo: _Undo) -> None:
        if batch.cached is None:  # no relation cache to merge with
            undo.touch([instance])
            assert batch.write is not None
            batch.write(instance, value)
            return
        cached = batch.cached(instance)
        by_row = {_identity(obj): obj for obj in _objects(cached)} if cached is not MISSING else {}
        if isinstance(value, list):
            chosen: Any = [self._choose(batch, instance, obj, by_row) for obj in value]
            unchanged = isinstance(cached, list) and len(chosen) == len(cached)
            unchanged = unchanged and all(a is b for a, b in zip(chosen, cached, strict=True))
        else:
            chosen = self._choose(batch, instance, value, by_row) if isinstance(value, Model) else value
            unchanged = chosen is cached
        if batch.write is None or unchanged:
            return
        undo.touch([instance, *_objects(chosen)])
        if batch.replace and by_row:
            for obj in _objects(chosen):
                old = by_row.get(_identity(obj))
                if old is not None and old is not obj:
                    _transplant(old, obj)
        batch.write(instance, chosen)

    def _choose(self, batch: _Batch, parent: Model, loaded: Model, by_row: dict[Any, Model]) -> Model:
        """The object to put on ``parent`` for the loaded row ``loaded``."""
        entry = self._targets.get(id(loaded))
        targets = entry[1] if entry is not None and entry[0] is loaded else None
        if batch.replace:
            chosen = loaded  # new objects win (their caches come from the old ones)
        else:
            # The parent's own copy of the row, else the one already chosen for this
            # loaded object elsewhere (one load's objects stay shared), else itself.
            chosen = by_row.get(_identity(loaded)) or (targets[0] if targets else loaded)
        if targets is None:
            targets = []
            self._targets[id(loaded)] = (loaded, targets)
        if not any(t is chosen for t in targets):
            targets.append(chosen)
        if chosen is not loaded:
            self._kept[(id(parent), id(loaded))] = (parent, loaded, chosen)
        return chosen
