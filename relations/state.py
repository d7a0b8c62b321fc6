"""Is a relation loaded?  Answered from Django's own caches, never from a parallel record.

Two questions per relation kind, shared by the descriptors (may this read run a
query?) and the loaders (which instances still need one?):

* ``is_loaded``: Django's cache for the relation holds a value.
* ``needs_query``: reading it now would query.  False when Django answers from the
  instance alone: a null foreign key, a generic foreign key with a NULL content
  type or object id, a parent link whose parent fields are all present, a reverse
  one-to-one or to-many relation of an instance without a primary key (Django
  answers "none" or raises its own ValueError there).

Nothing here touches a database.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Model
from django.db.models.fields import related_descriptors

from .kinds import Kind, RelationInfo, gfk_field

# Django 6.1 walks MTI ancestors for a cached forward value; 5.2 checks the nearest one.
_traverse_ancestors = getattr(related_descriptors, "_traverse_ancestors", None)


def many_cache_name(info: RelationInfo) -> str:
    """The key of a to-many relation in ``instance._prefetched_objects_cache``."""
    d = info.descriptor
    if info.kind is Kind.MANY_TO_MANY:
        return d.field.name  # type: ignore[no-any-return]
    if info.kind is Kind.REVERSE_MANY_TO_MANY:
        # Django keys the reverse side by the related query name, not the accessor.
        return d.rel.field.related_query_name()  # type: ignore[no-any-return]
    if info.kind is Kind.GENERIC_RELATION:
        return d.field.attname  # type: ignore[no-any-return]
    return d.rel.field.remote_field.cache_name  # type: ignore[no-any-return]


def to_one_cache(info: RelationInfo) -> Any:
    """The object whose ``is_cached``/``set_cached_value`` hold a to-one relation."""
    d = info.descriptor
    if info.kind is Kind.REVERSE_ONE_TO_ONE:
        return d.related
    if info.kind is Kind.GENERIC_FOREIGN_KEY:
        return gfk_field(d)
    return d.field


def is_loaded(info: RelationInfo, instance: Model) -> bool:
    """True when Django's cache holds the relation for ``instance``."""
    if info.many:
        cache = getattr(instance, "_prefetched_objects_cache", None)
        return cache is not None and many_cache_name(info) in cache
    return to_one_cache(info).is_cached(instance)  # type: ignore[no-any-return]


def forward_needs_query(field: Any, instance: Model) -> bool:
    """Forward FK/one-to-one that is not cached: would ``__get__`` query?"""
    values = instance.__dict__
    for f in field.local_related_fields:
        if f.attname not in values:
            return True  # Django would refresh the deferred column first: a query.
        if values[f.attname] is None:
            return False
    if type(instance) is not field.model and _cached_on_ancestor(field, instance):
        return False
    remote = field.remote_field
    if remote.parent_link and not remote.multiple:
        parent_fields = {f.attname for f in remote.model._meta.concrete_fields}
        # Django builds the parent from the child's own columns when all are present.
        return any(name in parent_fields for name in instance.get_deferred_fields())
    return True


def _cached_on_ancestor(field: Any, instance: Model) -> bool:
    # An MTI child reached from its parent: Django reads the value cached on the
    # parent instance (6.1 walks every level, 5.2 looks at the nearest ancestor link).
    if _traverse_ancestors is not None:
        return any(
            ancestor is not None and field.get_cached_value(ancestor, None) is not None
            for _current, ancestor in _traverse_ancestors(field.model, instance)
        )
    link = instance._meta.get_ancestor_link(field.model)
    if link is None or not link.is_cached(instance):
        return False
    return field.get_cached_value(link.get_cached_value(instance), None) is not None


def points_nowhere(field: Any, instance: Model) -> bool:
    """Generic foreign key whose content type or object id is NULL (and not deferred)."""
    ct_attname = field.model._meta.get_field(field.ct_field).attname
    values = instance.__dict__
    if ct_attname not in values or field.fk_field not in values:
        return False
    return values[ct_attname] is None or values[field.fk_field] is None


def gfk_needs_query(field: Any, instance: Model) -> bool:
    """Generic foreign key: would ``__get__`` query (for an object that may exist)?"""
    ct_attname = field.model._meta.get_field(field.ct_field).attname
    if ct_attname not in instance.__dict__ or field.fk_field not in instance.__dict__:
        return True
    if points_nowhere(field, instance):
        return False
    ct_id = getattr(instance, ct_attname)
    pk_val = getattr(instance, field.fk_field)
    if not field.is_cached(instance):
        return True
    cached = field.get_cached_value(instance)
    if cached is None:
        return False  # loaded, and nothing was found
    # Django re-fetches when the cached object no longer matches the columns.
    ct = field.get_content_type(obj=cached, using=instance._state.db)
    return bool(ct.id != ct_id or cached._meta.pk.to_python(pk_val) != cached.pk)


def needs_query(info: RelationInfo, instance: Model) -> bool:
    """Would reading ``info`` on ``instance`` run a query right now?"""
    kind = info.kind
    if kind is Kind.GENERIC_FOREIGN_KEY:
        return gfk_needs_query(gfk_field(info.descriptor), instance)
    if is_loaded(info, instance):
        return False
    if kind in (Kind.FORWARD_FOREIGN_KEY, Kind.FORWARD_ONE_TO_ONE, Kind.PARENT_LINK):
        return forward_needs_query(info.descriptor.field, instance)
    if kind is Kind.GENERIC_RELATION:
        return True  # Django queries even without a primary key ("object_id IS NULL")
    # Reverse one-to-one and to-many: without a primary key Django answers alone
    # (None, or its own ValueError for a to-many manager).
    return bool(instance._is_pk_set())  # type: ignore[attr-defined]
