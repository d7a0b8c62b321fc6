"""Helpers shared by test_api, test_loaders and test_drivers.

* ``load(style, obj, path)``: one ``R()`` call in each of its three faces;
* ``snapshot(value)``: a comparable description of instances, their field values
  and everything Django has cached on them (to compare drivers and Django);
* ``related_pks(instances, path)``: what plain attribute access reads along a path,
  as nested primary keys, asserting that it runs no query;
* ``select_counter`` / ``failing_select``: execute wrappers that count or break
  SELECTs; ``worker_*``: helpers for tests on a real event loop, where asgiref's
  worker thread has a connection of its own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ObjectDoesNotExist
from django.db import OperationalError, connection, connections
from django.db.models import Model
from django.test.utils import CaptureQueriesContext

from relations import R
from tests.conftest import run

STYLES = ["await_method", "sync", "await_function"]

DEFERRED = "<deferred>"


def load(style: str, obj: Any, path: Any, **kwargs: Any) -> Any:
    """``R(obj, path)`` through one of its faces: await obj.R(), .sync(), await R(obj)."""
    if style == "sync":
        return obj.R(path, **kwargs).sync()
    if style == "await_method":

        async def go() -> Any:
            return await obj.R(path, **kwargs)

    elif style == "await_function":

        async def go() -> Any:
            return await R(obj, path, **kwargs)

    else:  # pragma: no cover
        raise AssertionError(style)
    return run(go)


def warm_contenttypes(using: str = "default") -> None:
    """Fill Django's ContentType cache for every test model, so counts are data only."""
    from django.apps import apps

    manager = ContentType.objects.db_manager(using)
    for model in apps.get_models():
        manager.get_for_model(model)
        manager.get_for_model(model, for_concrete_model=False)


def _fields(obj: Model) -> dict[str, Any]:
    return {f.attname: obj.__dict__.get(f.attname, DEFERRED) for f in obj._meta.concrete_fields}


def snapshot(value: Any, depth: int = 3, extra_attrs: tuple[str, ...] = (), any_order: bool = False) -> Any:
    """Instances (and lists of them) as plain data: model, db, field values, caches.

    ``any_order``: sort lists, for relations without an ordering, whose rows a
    database (PostgreSQL) may return in a different order from one query to the next.
    """
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        items = [snapshot(v, depth, extra_attrs, any_order) for v in value]
        return sorted(items, key=repr) if any_order else items
    assert isinstance(value, Model), value
    out: dict[str, Any] = {
        "model": value._meta.label,
        "db": value._state.db,
        "fields": _fields(value),
    }
    if depth > 0:
        out["fields_cache"] = {
            name: snapshot(cached, depth - 1, extra_attrs, any_order)
            for name, cached in sorted(value._state.fields_cache.items())
        }
        prefetched = getattr(value, "_prefetched_objects_cache", {})
        out["prefetched"] = {
            name: snapshot(list(qs._result_cache), depth - 1, extra_attrs, any_order)
            for name, qs in sorted(prefetched.items())
        }
        for attr in extra_attrs:
            if attr in value.__dict__:
                out[f"attr:{attr}"] = snapshot(value.__dict__[attr], depth - 1, extra_attrs, any_order)
    return out


def _read(obj: Model, name: str) -> Any:
    """Plain attribute access, as a user would read the relation."""
    try:
        value = getattr(obj, name)
    except ObjectDoesNotExist:  # a reverse one-to-one with no row
        return None
    if hasattr(value, "all") and not isinstance(value, Model):
        return list(value.all())
    return value


def _pks(value: Any, hops: list[str]) -> Any:
    if value is None:
        return None
    if isinstance(value, list):
        return [_pks(v, hops) for v in value]
    if not hops:
        return (value._meta.label, value.pk)
    return ((value._meta.label, value.pk), _pks(_read(value, hops[0]), hops[1:]))


def related_pks(instances: list[Model], path: str) -> list[Any]:
    """Nested (label, pk) read along ``path`` by plain access; must run no query."""
    hops = path.split("__")
    with CaptureQueriesContext(connection) as ctx:
        out = [_pks(obj, hops) for obj in instances]
    assert len(ctx) == 0, [q["sql"] for q in ctx.captured_queries]
    return out


def flat_params(params: Any) -> list[Any]:
    out: list[Any] = []
    for p in params or ():
        if isinstance(p, (list, tuple, set, frozenset)):
            out.extend(p)
        else:
            out.append(p)
    return out


def is_select(sql: str) -> bool:
    return sql.lstrip().upper().startswith("SELECT")


class SelectLog:
    """An execute wrapper that records (sql, flattened params) of every statement."""

    def __init__(self) -> None:
        self.statements: list[tuple[str, list[Any]]] = []
        self.threads: set[int] = set()

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        self.statements.append((sql, flat_params(params)))
        self.threads.add(threading.get_ident())
        return execute(sql, params, many, context)

    @property
    def selects(self) -> list[tuple[str, list[Any]]]:
        return [s for s in self.statements if is_select(s[0])]


class FailingSelect:
    """An execute wrapper that raises OperationalError on the n-th SELECT (1-based)."""

    def __init__(self, fail_on: int) -> None:
        self.fail_on = fail_on
        self.selects = 0

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        if is_select(sql):
            self.selects += 1
            if self.selects == self.fail_on:
                raise OperationalError(f"injected failure on SELECT #{self.selects}")
        return execute(sql, params, many, context)


@contextmanager
def failing_select(fail_on: int, using: str = "default") -> Iterator[FailingSelect]:
    wrapper = FailingSelect(fail_on)
    with connections[using].execute_wrapper(wrapper):
        yield wrapper


class BlockingSelect:
    """An execute wrapper for a real event loop: on the n-th SELECT it tells the loop
    (``loop.call_soon_threadsafe(started.set)``) and waits for ``release``."""

    def __init__(self, block_on: int, loop: Any, started: Any) -> None:
        self.block_on = block_on
        self.loop = loop
        self.started = started
        self.release = threading.Event()
        self.selects = 0
        self.done = 0

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        if is_select(sql):
            self.selects += 1
            if self.selects == self.block_on:
                self.loop.call_soon_threadsafe(self.started.set)
                assert self.release.wait(10), "the test never released the blocked query"
        result = execute(sql, params, many, context)
        if is_select(sql):
            self.done += 1
        return result


async def worker_add_wrapper(wrapper: Any, using: str = "default") -> None:
    """Install an execute wrapper on the connection of asgiref's worker thread."""

    def add() -> None:
        connections[using].execute_wrappers.append(wrapper)

    await sync_to_async(add, thread_sensitive=True)()


async def worker_remove_wrapper(wrapper: Any, using: str = "default") -> None:
    def remove() -> None:
        if wrapper in connections[using].execute_wrappers:
            connections[using].execute_wrappers.remove(wrapper)

    await sync_to_async(remove, thread_sensitive=True)()


async def worker_close_connections() -> None:
    """Close the worker thread's connections (PostgreSQL cannot drop a database in use)."""
    await sync_to_async(connections.close_all, thread_sensitive=True)()
