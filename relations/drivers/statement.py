"""A ``Fetch`` task as SQL for a native driver, and its rows back as instances.

Native drivers must give exactly the instances Django's ORM would.  So the SQL is
compiled by Django's own compiler (in the event loop: compiling does no I/O for
the queries loaders build), and rows become instances through the queryset's own
iterable class, fed with the fetched rows instead of a cursor.  That reuses all of
Django's row handling: backend converters and ``from_db_value``, ``select_related``
populators, annotations, deferred fields, known related objects, and on Django 6.1
the fetch mode.  ``prefetch_related`` is not involved: loaders strip it off and
load those lookups themselves.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, cast

from django.core.exceptions import EmptyResultSet
from django.core.signals import setting_changed
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.sql.compiler import SQLCompiler
from django.dispatch import receiver

from ..loaders.tasks import Fetch


@dataclass(slots=True)
class Statement:
    """One compiled SELECT; ``sql`` is None when Django knows the result is empty."""

    sql: str | None
    params: tuple[Any, ...]
    queryset: Any
    compiler: SQLCompiler


# Compiled statements by task shape (None: that shape's parameters could not be
# derived from its keys, so it is always compiled).  Small batches only: they are
# what R() runs per call, and a big IN list costs little to compile per row.
_by_shape: dict[Hashable, Statement | None] = {}
CACHED_KEYS = 8


def _compile(queryset: Any, connection: BaseDatabaseWrapper | None) -> Statement:
    compiler = queryset.query.get_compiler(using=queryset.db, connection=connection)
    try:
        sql, params = compiler.as_sql()
    except EmptyResultSet:  # .none(), pk__in=[]: Django runs no query either
        return Statement(None, (), queryset, compiler)
    return Statement(sql, tuple(params), queryset, compiler)


def _shallow(obj: Any) -> Any:
    # Not copy.copy(): pickling support makes a QuerySet evaluate itself when copied.
    copied = object.__new__(type(obj))
    copied.__dict__.update(obj.__dict__)
    return copied


def _key_params(task: Fetch, connection: BaseDatabaseWrapper) -> tuple[Any, ...]:
    # What Django's In lookup does with each value: prepare, then adapt for the backend.
    field: Any = task.key_field
    return tuple(
        field.get_db_prep_value(field.get_prep_value(v), connection, prepared=True) for v in task.keys
    )


def compile_task(task: Fetch, connection: BaseDatabaseWrapper | None = None) -> Statement:
    """Compile ``task``'s queryset with Django's compiler for the database it routes to.

    ``connection``: the Django connection object to compile with (no I/O is done on
    it; default: this thread's or context's).  A task with a shape reuses the SQL
    compiled for the first task of that shape.
    """
    if connection is None:
        connection = connections[task.using]
    shape = task.shape
    if shape is not None:
        cached = _by_shape.get(shape)
        if cached is not None:
            # materialize() patches its statement's objects: each use gets shallow copies
            # (concurrent uses in other threads must not see each other's rows).
            queryset = _shallow(cached.queryset)
            queryset.query = _shallow(queryset.query)
            return Statement(cached.sql, _key_params(task, connection), queryset, _shallow(cached.compiler))
    # A private clone: materialize() patches its query.
    statement = _compile(cast(Any, task.queryset)._chain(), connection)
    if shape is not None and shape not in _by_shape and len(task.keys) <= CACHED_KEYS:
        # Trust the cache only if Django's parameters are exactly the keys prepared.
        reusable = statement.sql is not None and statement.params == _key_params(task, connection)
        if reusable:
            template = statement.queryset
            template._hints = {}  # keep no instance alive; the database is fixed:
            template._db = task.using
        _by_shape[shape] = statement if reusable else None
    return statement


@receiver(setting_changed)
def _forget(**kwargs: Any) -> None:
    _by_shape.clear()  # USE_TZ, TIME_ZONE, DATABASES... may change SQL or parameters


def materialize(statement: Statement, rows: list[Any]) -> list[Any]:
    """Turn fetched ``rows`` into what iterating the queryset would have given."""
    compiler = statement.compiler
    if compiler.has_extra_select:  # as SQLCompiler.execute_sql trims them
        rows = [row[: compiler.col_count] for row in rows]
    chunks = [rows]
    # The iterable asks the query for a compiler and the compiler for its chunks of
    # rows (MULTI result shape); both answer from what was fetched.
    compiler.execute_sql = lambda *args, **kwargs: chunks  # type: ignore[method-assign,assignment]
    queryset = statement.queryset
    queryset.query.get_compiler = lambda *args, **kwargs: compiler
    return list(queryset._iterable_class(queryset))
