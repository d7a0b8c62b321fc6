"""The native driver: tasks run on async database connections, in the event loop.

A task's queryset is compiled by Django in the loop (``statement``), its SQL runs
on aiosqlite or psycopg connections (``sqlite``, ``postgresql``) as the calling
context's Django connection would run it (``observe``), and the rows come back as
instances through Django's own iterables.  No hop onto Django's one
thread-sensitive thread: concurrent loads run concurrently.

Connections belong to the event loop that opened them (psycopg's pool runs tasks
on it).  They close when that loop shuts down (``asyncio.run()``, asgiref's
``async_to_sync`` and uvicorn cancel the remaining tasks of a loop before closing
it; a guard task closes the connections then), or earlier with ``await aclose()``.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol, cast

from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.dispatch import receiver

from ..conf import config
from ..loaders.tasks import Fetch
from . import observe
from .statement import Statement, compile_task, materialize


class Backend(Protocol):
    """What the native driver needs from a database-specific connection holder."""

    vendor: str

    async def fetchall(self, sql: str, params: tuple[Any, ...]) -> list[Any]: ...

    async def describe(self, sql: str, params: tuple[Any, ...]) -> str: ...

    async def aclose(self) -> None: ...


class _LoopBackends(dict[str, Backend]):
    """The backends of one event loop, and the task that closes them at its shutdown."""

    guard: asyncio.Task[None]


_loops: dict[asyncio.AbstractEventLoop, _LoopBackends] = {}
_unsupported: dict[str, str | None] = {}  # alias -> why it has no native driver


def unsupported(alias: str) -> str | None:
    """Why ``alias`` cannot run on a native driver, or None when it can."""
    if alias not in _unsupported:
        _unsupported[alias] = _why_unsupported(alias)
    return _unsupported[alias]


@receiver(setting_changed)
def _forget(*, setting: str, **kwargs: Any) -> None:
    if setting == "DATABASES":
        _unsupported.clear()


def _why_unsupported(alias: str) -> str | None:
    wrapper = connections[alias]
    if wrapper.vendor == "sqlite":
        if cast(Any, wrapper).is_in_memory_db():
            return "an in-memory SQLite database is only visible to Django's own connection"
        return None
    if wrapper.vendor == "postgresql":
        try:
            import psycopg_pool  # noqa: F401
            from django.db.backends.postgresql.psycopg_any import is_psycopg3
        except ImportError:
            return "psycopg_pool is not installed (pip install django-strict-relations[postgres])"
        return None if is_psycopg3 else "the native driver needs psycopg 3, not psycopg2"
    return f"there is no native driver for {wrapper.vendor}"


def _create(alias: str) -> Backend:
    reason = unsupported(alias)
    if reason is not None:
        raise ImproperlyConfigured(
            f'RELATIONS["ASYNC_DRIVER"] = "native" cannot run queries on database {alias!r}: {reason}. '
            'Use "auto" to fall back to the thread driver there.'
        )
    template = observe.loop_connection(alias)
    settings = config()
    if template.vendor == "sqlite":
        from .sqlite import SQLiteBackend

        return SQLiteBackend(template, settings.native_pool_size)
    from .postgresql import PostgresBackend

    return PostgresBackend(template, settings.native_pool_size, settings.native_timeout)


async def _close_at_shutdown(backends: _LoopBackends) -> None:
    try:
        await asyncio.get_running_loop().create_future()  # until the loop cancels it
    finally:
        await _close(backends)


async def _close(backends: _LoopBackends) -> None:
    _loops.pop(asyncio.get_running_loop(), None)
    closing = list(backends.values())
    backends.clear()
    await asyncio.gather(*(backend.aclose() for backend in closing), return_exceptions=True)


def backend(alias: str) -> Backend:
    """The native backend of ``alias`` for the running event loop."""
    loop = asyncio.get_running_loop()
    backends = _loops.get(loop)
    if backends is None:
        backends = _loops[loop] = _LoopBackends()
        backends.guard = loop.create_task(_close_at_shutdown(backends), name="relations-native-close")
    found = backends.get(alias)
    if found is None:
        found = backends[alias] = _create(alias)
    return found


async def aclose() -> None:
    """Close the running event loop's native connections (they reopen on next use)."""
    backends = _loops.get(asyncio.get_running_loop())
    if backends is not None:
        backends.guard.cancel()
        await _close(backends)


async def prepare(alias: str) -> Backend:
    """The backend, with what compiling needs known without sync I/O."""
    found = backend(alias)
    wrapper = observe.loop_connection(alias)
    if found.vendor == "postgresql" and "pg_version" not in wrapper.__dict__:
        # Some expressions ask the server version while compiling; Django would
        # open a sync connection to find out.
        from .postgresql import PostgresBackend

        assert isinstance(found, PostgresBackend)
        wrapper.__dict__["pg_version"] = await found.ensure_version()
    return found


async def run(statement: Statement, found: Backend, calling: BaseDatabaseWrapper) -> list[Any]:
    """Run a compiled statement on ``found`` as if on ``calling``; build its instances."""
    if statement.sql is None:
        return materialize(statement, [])
    rows = await observe.observed(calling, found.fetchall, statement.sql, statement.params, found.describe)
    return materialize(statement, rows)


async def execute(task: Fetch) -> list[Any]:
    """Run one task on the native connection of its database."""
    found = await prepare(task.using)
    statement = compile_task(task, observe.loop_connection(task.using))
    return await run(statement, found, observe.calling_connection(task.using))
