"""One small strategy per relation kind: how to load it for a batch of instances.

A strategy answers four questions for its relation:

* ``needs_load(instance)``: does this instance still need a query?
* ``read(instance)``: the current value, through Django, when no query is needed;
* ``fetch(instances, queryset, pending)``: a loader that yields the queries for a
  batch (one ``IN`` query, or one per content type for a generic foreign key) and
  returns ``{id(instance): value}``;
* ``write(instance, value, queryset)``: put a loaded value into Django's own cache,
  exactly where Django's ``prefetch_related`` would;
* ``cached(instance)``: the value in that cache now, or ``MISSING`` (the commit
  merges with it, see ``pending``).

The query shapes follow Django's ``get_prefetch_querysets``; where Django's version
evaluates its queryset inside the method (reverse foreign key, one-to-one, generic
foreign key) the query is built here instead, so that it can be yielded.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any, cast

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import DEFAULT_DB_ALIAS, router
from django.db.models import Model, QuerySet
from django.db.models.fields.related_descriptors import (  # type: ignore[attr-defined]
    _filter_prefetch_queryset,
)

from .. import state
from ..kinds import Kind, RelationInfo, gfk_field
from . import contenttypes
from .pending import MISSING, Pending
from .tasks import Fetch, Loader

Values = dict[int, Any]
Key = Callable[[Any], Any]


def match(
    rows: Sequence[Model],
    instances: Sequence[Model],
    row_key: Key,
    instance_key: Key,
    single: bool,
) -> Values:
    """Pair fetched rows with the instances they belong to (as prefetch_one_level does)."""
    index: dict[Any, list[Model]] = defaultdict(list)
    for row in rows:
        index[row_key(row)].append(row)
    values: Values = {}
    for instance in instances:
        found = index.get(instance_key(instance), [])
        values[id(instance)] = (found[0] if found else None) if single else found
    return values


def as_python(fields: Sequence[Any], values: tuple[Any, ...]) -> tuple[Any, ...]:
    """Key values as the target's fields hold them, so rows match (``reporter_id="1"``).

    A value the field cannot convert stays as it is: the query then fails with
    Django's own error.
    """
    try:
        return tuple(f.to_python(v) for f, v in zip(fields, values, strict=True))
    except ValidationError:
        return values


def routed(queryset: Any, instance: Model) -> Any:
    """A private copy of ``queryset`` routed as Django's descriptors route: by instance hint."""
    queryset = queryset._chain()
    queryset._add_hints(instance=instance)
    return queryset


class Strategy:
    """Loading of one relation; subclasses implement one relation kind each."""

    def __init__(self, info: RelationInfo) -> None:
        self.info = info
        # Pending values are keyed by relation identity (shared by MTI children, proxies).
        self.key: Any = id(info.descriptor)

    def needs_load(self, instance: Model, refresh: bool = False) -> bool:
        """Does ``instance`` need a query (``refresh``: even if loaded)?"""
        if refresh and (not self.info.many or instance._is_pk_set()):  # type: ignore[attr-defined]
            return True
        return state.needs_query(self.info, instance)

    def read(self, instance: Model) -> Any:
        try:
            return getattr(instance, self.info.name)
        except ObjectDoesNotExist:  # a reverse one-to-one with no row
            return None

    def cached(self, instance: Model) -> Any:
        """What Django's cache holds for the relation now, or MISSING (no query)."""
        cache = state.to_one_cache(self.info)
        return cache.get_cached_value(instance) if cache.is_cached(instance) else MISSING

    def fetch(
        self, instances: Sequence[Model], queryset: QuerySet[Any] | None, pending: Pending
    ) -> Loader[Values]:
        raise NotImplementedError

    def write(self, instance: Model, value: Any, queryset: QuerySet[Any] | None) -> None:
        raise NotImplementedError


class Forward(Strategy):
    """Forward foreign key, one-to-one field, and multi-table inheritance parent link."""

    def fetch(
        self, instances: Sequence[Model], queryset: QuerySet[Any] | None, pending: Pending
    ) -> Loader[Values]:
        field = self.info.descriptor.field
        local = field.local_related_fields
        attnames = [f.attname for f in local]
        columns: dict[int, tuple[Any, ...]] = {}
        if len(attnames) == 1:  # the common case, per instance without a generator
            attname = attnames[0]
            deferred = [i for i in instances if attname not in i.__dict__]
        else:
            deferred = [i for i in instances if any(a not in i.__dict__ for a in attnames)]
        if deferred:
            # The key columns themselves were deferred: fetch them first (Django
            # would run a refresh_from_db query per instance here).
            model = type(deferred[0])
            rows = yield Fetch(
                model._base_manager.db_manager(deferred[0]._state.db)
                .filter(pk__in=[i.pk for i in deferred])
                .only(*attnames)
            )
            by_pk = {row.pk: row for row in rows}
            for inst in deferred:
                row = by_pk.get(inst.pk)
                columns[id(inst)] = tuple(getattr(row, a) if row else None for a in attnames)
                pending.add(inst, (self.key, "columns"), columns[id(inst)], self._write_columns)

        targets = field.foreign_related_fields
        if len(local) == 1 and not local[0].primary_key and not columns:
            # What get_local_related_value() reads for a plain key column.
            keys = {id(i): as_python(targets, (i.__dict__[attname],)) for i in instances}
        else:
            keys = {
                id(i): as_python(targets, columns.get(id(i)) or field.get_local_related_value(i))
                for i in instances
            }
        keyed = [i for i in instances if None not in keys[id(i)]]
        values: Values = {id(i): None for i in instances}
        if not keyed:
            return values
        target_model = field.remote_field.model
        if field.remote_field.hidden or len(field.foreign_related_fields) == 1:
            target = field.foreign_related_fields[0]
            key_values = tuple({keys[id(i)][0] for i in keyed})

            def build() -> QuerySet[Any]:
                base = queryset if queryset is not None else target_model._base_manager.all()
                built: QuerySet[Any] = routed(base, keyed[0]).filter(**{f"{target.name}__in": key_values})
                return built

            if queryset is None and not router.routers:
                # Without routers the database is the instance's (Django's default
                # routing); the SQL then depends only on the relation and the count.
                using = keyed[0]._state.db or DEFAULT_DB_ALIAS
                task = Fetch.by_keys(build, using, (self.key, using, len(key_values)), key_values, target)
            else:
                task = Fetch(build())
        else:
            base = queryset if queryset is not None else target_model._base_manager.all()
            task = Fetch(routed(base, keyed[0]).filter(**{f"{field.related_query_name()}__in": keyed}))
        rows = yield task
        values.update(match(rows, keyed, field.get_foreign_related_value, lambda i: keys[id(i)], True))
        return values

    def _write_columns(self, instance: Model, columns: tuple[Any, ...]) -> None:
        for f, value in zip(self.info.descriptor.field.local_related_fields, columns, strict=True):
            instance.__dict__[f.attname] = value

    def write(self, instance: Model, value: Any, queryset: QuerySet[Any] | None) -> None:
        field = self.info.descriptor.field
        field.set_cached_value(instance, value)
        if value is not None and not field.remote_field.multiple:
            field.remote_field.set_cached_value(value, instance)


class ReverseOne(Strategy):
    """Reverse side of a one-to-one field."""

    def fetch(
        self, instances: Sequence[Model], queryset: QuerySet[Any] | None, pending: Pending
    ) -> Loader[Values]:
        related = self.info.descriptor.related
        qs = routed(
            queryset if queryset is not None else related.related_model._base_manager.all(),
            instances[0],
        )
        rows = yield Fetch(qs.filter(**{f"{related.field.name}__in": instances}))
        return match(
            rows,
            instances,
            related.field.get_local_related_value,
            related.field.get_foreign_related_value,
            True,
        )

    def write(self, instance: Model, value: Any, queryset: QuerySet[Any] | None) -> None:
        related = self.info.descriptor.related
        related.set_cached_value(instance, value)
        if value is not None:
            related.field.set_cached_value(value, instance)


class Many(Strategy):
    """Common part of the to-many kinds: the value is a list, cached like prefetch_related."""

    def read(self, instance: Model) -> Any:
        return list(getattr(instance, self.info.name).all())

    def cached(self, instance: Model) -> Any:
        found = getattr(instance, "_prefetched_objects_cache", {}).get(state.many_cache_name(self.info))
        rows = None if found is None else found._result_cache
        return MISSING if rows is None else list(rows)

    def write(self, instance: Model, value: Any, queryset: QuerySet[Any] | None) -> None:
        cache_name = state.many_cache_name(self.info)
        if not hasattr(instance, "_prefetched_objects_cache"):
            instance._prefetched_objects_cache = {}  # type: ignore[attr-defined]
        instance._prefetched_objects_cache.pop(cache_name, None)  # type: ignore[attr-defined]
        manager = getattr(instance, self.info.name)
        # _apply_rel_filters() changes its argument in place on Django 6.1: a copy each.
        qs = (
            manager._apply_rel_filters(cast(Any, queryset)._chain())
            if queryset is not None
            else manager.get_queryset()
        )
        qs._result_cache = list(value)
        qs._prefetch_done = True
        instance._prefetched_objects_cache[cache_name] = qs  # type: ignore[attr-defined]


class ReverseMany(Many):
    """Reverse side of a foreign key (``author.books``)."""

    def fetch(
        self, instances: Sequence[Model], queryset: QuerySet[Any] | None, pending: Pending
    ) -> Loader[Values]:
        field = self.info.descriptor.rel.field
        # Without queryset=: what the related manager's super().get_queryset() gives,
        # the related model's default manager (soft-delete managers keep filtering).
        qs = routed(
            queryset if queryset is not None else field.model._default_manager.all(),
            instances[0],
        )
        keys = self._plain_keys(instances, field) if queryset is None and not router.routers else None
        if keys is None or qs._prefetch_related_lookups:
            task = Fetch(_filter_prefetch_queryset(qs, field.name, instances))
        else:
            # As for a forward key: the SQL depends on the relation and the number of
            # keys only, so a driver may reuse what it compiled (R("books") per call).
            using = instances[0]._state.db or DEFAULT_DB_ALIAS
            task = Fetch.by_keys(
                lambda: _filter_prefetch_queryset(qs, field.name, instances),
                using,
                (self.key, using, len(keys)),
                keys,
                field,
            )
        rows = yield task
        return match(
            rows,
            instances,
            field.get_local_related_value,
            field.get_foreign_related_value,
            False,
        )

    @staticmethod
    def _plain_keys(instances: Sequence[Model], field: Any) -> tuple[Any, ...] | None:
        """The distinct single-column keys the rows point at, or None (no reusable SQL)."""
        if len(field.foreign_related_fields) != 1:
            return None
        attname = field.foreign_related_fields[0].attname
        try:
            keys = tuple(dict.fromkeys(i.__dict__[attname] for i in instances))
        except (KeyError, TypeError):  # a deferred or unhashable key
            return None
        return None if None in keys else keys

    def write(self, instance: Model, value: Any, queryset: QuerySet[Any] | None) -> None:
        field = self.info.descriptor.rel.field
        for row in value:
            if not field.is_cached(row):
                field.set_cached_value(row, instance)
        super().write(instance, value, queryset)


class ManagerPrefetch(Many):
    """Many-to-many (both sides): Django's related manager builds a lazy prefetch query."""

    def prepare(self, instances: Sequence[Model]) -> Loader[None]:
        """Queries the manager needs before it can be built (none here)."""
        yield from ()

    def fetch(
        self, instances: Sequence[Model], queryset: QuerySet[Any] | None, pending: Pending
    ) -> Loader[Values]:
        yield from self.prepare(instances)
        manager = getattr(instances[0], self.info.name)
        querysets = [cast(Any, queryset)._chain()] if queryset is not None else None
        qs, row_key, instance_key, _single, _cache, _is_descriptor = manager.get_prefetch_querysets(
            list(instances), querysets
        )
        rows = yield Fetch(qs)
        return match(rows, instances, row_key, instance_key, False)


class GenericMany(ManagerPrefetch):
    """GenericRelation: its manager needs the instances' content types first."""

    def prepare(self, instances: Sequence[Model]) -> Loader[None]:
        field = self.info.descriptor.field
        yield from contenttypes.for_models(
            instances[0]._state.db or "default",
            {type(i) for i in instances},
            field.for_concrete_model,
        )


class GenericForeign(Strategy):
    """GenericForeignKey: one query per content type, matched on (pk, model)."""

    def read(self, instance: Model) -> Any:
        return getattr(instance, self.info.name)

    def fetch(
        self, instances: Sequence[Model], queryset: QuerySet[Any] | None, pending: Pending
    ) -> Loader[Values]:
        field = gfk_field(self.info.descriptor)
        ct_attname = field.model._meta.get_field(field.ct_field).attname
        db = instances[0]._state.db or "default"
        # A queryset (or GenericPrefetch's list of them) applies to its own model.
        given = queryset if isinstance(queryset, list) else [queryset] if queryset is not None else []
        custom: dict[Any, Any] = {qs.model._meta.concrete_model: qs for qs in given}
        values: Values = {id(i): None for i in instances}
        by_ct: dict[int, list[Model]] = defaultdict(list)
        for inst in instances:
            ct_id, fk = getattr(inst, ct_attname), getattr(inst, field.fk_field)
            if ct_id is not None and fk is not None:
                by_ct[ct_id].append(inst)
        yield from contenttypes.by_id(db, by_ct)
        from django.contrib.contenttypes.models import ContentType

        manager = ContentType.objects.db_manager(db)
        for ct_id in sorted(by_ct):
            group = by_ct[ct_id]
            model = manager.get_for_id(ct_id).model_class()
            if model is None:  # a stale content type: Django gives None too
                continue
            pk = model._meta.pk
            keys = {pk.to_python(getattr(i, field.fk_field)) for i in group}
            qs = custom.get(model._meta.concrete_model)
            qs = qs._chain() if qs is not None else model._base_manager.db_manager(db).all()
            rows = yield Fetch(qs.filter(pk__in=keys))
            # The cache hit in Django's __get__ checks the target's content type.
            yield from contenttypes.for_models(db, {type(r) for r in rows}, field.for_concrete_model)
            by_pk = {row.pk: row for row in rows}
            for inst in group:
                values[id(inst)] = by_pk.get(pk.to_python(getattr(inst, field.fk_field)))
        return values

    def write(self, instance: Model, value: Any, queryset: QuerySet[Any] | None) -> None:
        gfk_field(self.info.descriptor).set_cached_value(instance, value)


STRATEGIES: dict[Kind, type[Strategy]] = {
    Kind.FORWARD_FOREIGN_KEY: Forward,
    Kind.FORWARD_ONE_TO_ONE: Forward,
    Kind.PARENT_LINK: Forward,
    Kind.REVERSE_ONE_TO_ONE: ReverseOne,
    Kind.REVERSE_FOREIGN_KEY: ReverseMany,
    Kind.MANY_TO_MANY: ManagerPrefetch,
    Kind.REVERSE_MANY_TO_MANY: ManagerPrefetch,
    Kind.GENERIC_RELATION: GenericMany,
    Kind.GENERIC_FOREIGN_KEY: GenericForeign,
}


def _attribute(instance: Model, to_attr: str) -> Any:
    # A copy of a list, so that the commit compares it with what it is about to write.
    value = instance.__dict__.get(to_attr, MISSING)
    return list(value) if isinstance(value, list) else value


class ToAttr(Strategy):
    """A ``Prefetch(..., to_attr=...)``: the same query, stored as a plain attribute."""

    def __init__(self, inner: Strategy, to_attr: str) -> None:
        super().__init__(inner.info)
        self.inner = inner
        self.to_attr = to_attr
        # Keyed by the attribute alone, so a later lookup can traverse it (Through).
        self.key = ("to_attr", to_attr)

    def needs_load(self, instance: Model, refresh: bool = False) -> bool:
        return refresh or self.to_attr not in instance.__dict__

    def read(self, instance: Model) -> Any:
        return instance.__dict__[self.to_attr]

    def cached(self, instance: Model) -> Any:
        return _attribute(instance, self.to_attr)

    def fetch(
        self, instances: Sequence[Model], queryset: QuerySet[Any] | None, pending: Pending
    ) -> Loader[Values]:
        return self.inner.fetch(instances, queryset, pending)

    def write(self, instance: Model, value: Any, queryset: QuerySet[Any] | None) -> None:
        setattr(instance, self.to_attr, value)


class Through(Strategy):
    """A hop over an attribute that an earlier ``Prefetch(to_attr=...)`` set."""

    def __init__(self, to_attr: str) -> None:  # no relation, hence no RelationInfo
        self.key = ("to_attr", to_attr)
        self.to_attr = to_attr

    def needs_load(self, instance: Model, refresh: bool = False) -> bool:
        return False

    def read(self, instance: Model) -> Any:
        return instance.__dict__[self.to_attr]

    def cached(self, instance: Model) -> Any:
        return _attribute(instance, self.to_attr)
