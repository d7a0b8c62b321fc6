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
  attached to the kept objects (``live()`` says which object stands for which);
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

    __slots__ = ("_by_key", "_live", "_log")

    def __init__(self) -> None:
        # id(instance) is only a key while the entry holds the instance itself.
        self._by_key: dict[Any, dict[int, tuple[Model, Any]]] = {}
        self._log: list[_Batch] = []  # in load order: a hop's parents come before it
        # id(loaded object) -> (that object, the object kept instead): holding the
        # first keeps its id from being reused while the map lives.
        self._live: dict[int, tuple[Model, Model]] = {}

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

    def live(self, obj: Any) -> Any:
        """The object that stands for loaded object ``obj`` after the commit."""
        live = self._live
        for _ in range(len(live) + 1):  # bounded: a chain cannot be longer than the map
            entry = live.get(id(obj))
            if entry is None or entry[0] is not obj:
                return obj
            obj = entry[1]
        return obj

    def commit(self) -> None:
        """Write every pending value in load order, merged with what is cached now."""
        undo = _Undo()
        try:
            for batch in self._log:
                for instance, value in batch.entries:
                    self._apply(batch, self.live(instance), value, undo)
        except BaseException:
            undo.restore()
            self._live.clear()
            raise
        finally:
            self._log.clear()
            self._by_key.clear()

    def _apply(self, batch: _Batch, instance: Model, value: Any, undo: _Undo) -> None:
        if self._live:  # an object kept in place of a loaded one stands for it everywhere
            value = [self.live(v) for v in value] if isinstance(value, list) else self.live(value)
        cached = MISSING if batch.cached is None else batch.cached(instance)
        if cached is not MISSING:
            if batch.replace:
                undo.touch(_objects(value))
                self._replacing(cached, value, undo)
            else:
                value = self._keep(value, cached)
                if value is cached:
                    return
        if batch.write is None:
            return
        undo.touch([instance, *_objects(value)])
        batch.write(instance, value)

    def _keep(self, value: Any, cached: Any) -> Any:
        """``value`` with the cached objects of the same rows in place of new copies."""
        kept = {_identity(obj): obj for obj in _objects(cached)}
        if not isinstance(value, list):
            if not isinstance(value, Model):
                return cached if value is None and cached is None else value
            found = kept.get(_identity(value))
            if found is None:
                return value
            if found is not value:
                self._live[id(value)] = (value, found)
            return cached if found is cached else found
        out = []
        for obj in value:
            found = kept.get(_identity(obj))
            if found is not None and found is not obj:
                self._live[id(obj)] = (obj, found)
                obj = found
            out.append(obj)
        if (
            isinstance(cached, list)
            and len(out) == len(cached)
            and all(a is b for a, b in zip(out, cached, strict=True))
        ):
            return cached
        return out

    def _replacing(self, cached: Any, value: Any, undo: _Undo) -> None:
        new = {_identity(obj): obj for obj in _objects(value)}
        for old in _objects(cached):
            replacement = new.get(_identity(old))
            if replacement is not None and replacement is not old:
                _transplant(old, replacement)
                self._live[id(old)] = (old, replacement)
