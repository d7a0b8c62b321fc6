"""SQLite on aiosqlite: a small pool of connections per alias and event loop.

Each connection is made by Django itself, in aiosqlite's worker thread: a private
``DatabaseWrapper`` for the alias runs ``connect()``, so it gets everything
Django's own connections get (the SQL functions Django registers, its pragmas,
``OPTIONS`` and ``init_command``, the module-wide adapters and converters) and
``connection_created`` fires, with a connection object whose ``cursor()`` works on
this very connection, so receivers that configure it configure the right one.

Every aiosqlite connection has its own thread, and SQLite releases the GIL while
it works, so concurrent requests read in parallel on up to
``RELATIONS["NATIVE_POOL_SIZE"]`` connections; connections open only when all the
open ones are busy.
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass
from typing import Any

import aiosqlite
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.sqlite3.base import FORMAT_QMARK_REGEX


def qmark(sql: str) -> str:
    """Django's ``%s`` placeholders as SQLite's ``?`` (as ``SQLiteCursorWrapper`` does)."""
    return FORMAT_QMARK_REGEX.sub("?", sql).replace("%%", "%")


@dataclass(slots=True)
class _Connection:
    aio: aiosqlite.Connection
    django: BaseDatabaseWrapper  # the private connection object that opened it


class SQLiteBackend:
    """The native connections of one alias (opened on demand)."""

    vendor = "sqlite"

    def __init__(self, template: BaseDatabaseWrapper, size: int) -> None:
        self.alias = template.alias
        self._settings = template.settings_dict
        self._wrapper_class = type(template)
        self._size = size
        self._count = 0
        self._idle: asyncio.Queue[_Connection] = asyncio.Queue()
        self._all: list[_Connection] = []

    async def _open(self) -> _Connection:
        opened: list[BaseDatabaseWrapper] = []

        def connect() -> sqlite3.Connection:
            # Runs in aiosqlite's thread, which then owns the wrapper as Django expects.
            django = self._wrapper_class(self._settings, self.alias)
            django.connect()
            opened.append(django)
            connection: sqlite3.Connection = django.connection
            return connection

        aio = aiosqlite.Connection(connect, 64)
        # A forgotten connection must not keep the interpreter from exiting.
        aio._thread.daemon = True
        connection = _Connection(await aio, opened[0])
        self._all.append(connection)
        return connection

    async def _acquire(self) -> _Connection:
        if self._idle.empty() and self._count < self._size:
            self._count += 1
            try:
                return await self._open()
            except BaseException:
                self._count -= 1
                raise
        return await self._idle.get()

    async def fetchall(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        """Run one SELECT and return its rows."""
        connection = await self._acquire()
        try:
            return list(await connection.aio.execute_fetchall(qmark(sql), params))
        finally:
            self._idle.put_nowait(connection)

    async def describe(self, sql: str, params: tuple[Any, ...]) -> str:
        """The query with its parameters quoted, as Django logs it."""
        connection = await self._acquire()
        try:
            # In the connection's own thread: Django quotes the parameters with SQLite.
            in_thread: Any = connection.aio._execute
            shown: str = await in_thread(connection.django.ops.last_executed_query, None, sql, params)
            return shown
        finally:
            self._idle.put_nowait(connection)

    async def aclose(self) -> None:
        """Close every connection."""
        connections, self._all = self._all, []
        self._count = self._size  # nothing opens any more
        for connection in connections:
            await connection.aio.close()
