"""Warm Django's ContentType cache through tasks.

Generic relations look content types up in a process-wide cache and, on a miss,
query synchronously (which fails inside an event loop).  These sub-loaders fetch
what is missing through the driver, like any other query, and add it to Django's
own cache.  The cache holds immutable rows shared by the whole process, so filling
it early is not a write to any user instance.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Model, Q

from .tasks import Fetch, Loader


def _manager(db: str) -> Any:
    from django.contrib.contenttypes.models import ContentType

    return ContentType.objects.db_manager(db)


def _cached(db: str, key: Any) -> bool:
    return key in _manager(db)._cache.get(db, {})


def by_id(db: str, ids: Iterable[int]) -> Loader[None]:
    """Make ``ContentType.objects.get_for_id(i)`` a cache hit for every id."""
    missing = sorted({i for i in ids if not _cached(db, i)})
    if missing:
        manager = _manager(db)
        rows = yield Fetch(manager.filter(pk__in=missing))
        for ct in rows:
            manager._add_to_cache(db, ct)


def for_models(db: str, models: Iterable[type[Model]], for_concrete_model: bool) -> Loader[None]:
    """Make ``get_for_model(m, for_concrete_model)`` a cache hit for every model."""
    keys = set()
    for model in models:
        opts = (model._meta.concrete_model or model)._meta if for_concrete_model else model._meta
        if not _cached(db, (opts.app_label, opts.model_name)):
            keys.add((opts.app_label, opts.model_name))
    if keys:
        manager = _manager(db)
        query = Q()
        for app_label, model_name in sorted(keys):
            query |= Q(app_label=app_label, model=model_name)
        rows = yield Fetch(manager.filter(query))
        for ct in rows:
            manager._add_to_cache(db, ct)
