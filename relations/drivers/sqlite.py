"""SQLite on aiosqlite: one connection per alias and event loop.

The connection is made by Django itself, in aiosqlite's worker thread: a private
``DatabaseWrapper`` for the alias runs ``connect()``, so it gets everything
Django's own connections get (the SQL functions Django registers, its pragmas,
``OPTIONS`` and ``init_command``, the module-wide adapters and converters) and
``connection_created`` fires, with a connection object whose ``cursor()`` works on
this very connection, so receivers that configure it configure the right one.
One connection, not a pool: SQLite serialises in-process work anyway, and on a
small machine extra threads only add contention (see benchmarks).
"""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

import aiosqlite
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.sqlite3.base import FORMAT_QMARK_REGEX


def qmark(sql: str) -> str:
    """Django's ``%s`` placeholders as SQLite's ``?`` (as ``SQLiteCursorWrapper`` does)."""
    return FORMAT_QMARK_REGEX.sub("?", sql).replace("%%", "%")


class SQLiteBackend:
    """The native connection of one alias (opened on first use)."""

    vendor = "sqlite"

    def __init__(self, template: BaseDatabaseWrapper) -> None:
        self.alias = template.alias
        self._settings = template.settings_dict
        self._wrapper_class = type(template)
        self._django: BaseDatabaseWrapper | None = None
        self._connection: aiosqlite.Connection | None = None
        self._opening = asyncio.Lock()

    def _connect(self) -> sqlite3.Connection:
        # Runs in aiosqlite's thread, which then owns the wrapper as Django expects.
        django = self._wrapper_class(self._settings, self.alias)
        django.connect()
        self._django = django
        connection: sqlite3.Connection = django.connection
        return connection

    async def _connected(self) -> aiosqlite.Connection:
        if self._connection is None:
            async with self._opening:  # concurrent first queries open one connection
                if self._connection is None:
                    connection = aiosqlite.Connection(self._connect, 64)
                    # A forgotten connection must not keep the interpreter from exiting.
                    connection._thread.daemon = True
                    self._connection = await connection
        return self._connection

    async def fetchall(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        """Run one SELECT and return its rows."""
        connection = await self._connected()
        return list(await connection.execute_fetchall(qmark(sql), params))

    async def describe(self, sql: str, params: tuple[Any, ...]) -> str:
        """The query with its parameters quoted, as Django logs it."""
        connection = await self._connected()
        django = self._django
        assert django is not None
        # In the connection's own thread: Django quotes the parameters with SQLite.
        in_thread: Any = connection._execute
        shown: str = await in_thread(django.ops.last_executed_query, None, sql, params)
        return shown

    async def aclose(self) -> None:
        """Close the connection (it reopens on next use)."""
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()
