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

An idle connection is checked when it is taken (a ``stat()`` of the database file
and a look at its thread, no query): one whose file was replaced (a restored
backup, a deploy that swaps the file: the connection would go on reading the old,
deleted one) or whose thread has ended (it would never answer) is dropped and a
new one opened.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from dataclasses import dataclass
from typing import Any

import aiosqlite
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.sqlite3.base import FORMAT_QMARK_REGEX


def qmark(sql: str) -> str:
    """Django's ``%s`` placeholders as SQLite's ``?`` (as ``SQLiteCursorWrapper`` does)."""
    return FORMAT_QMARK_REGEX.sub("?", sql).replace("%%", "%")


FileIdentity = tuple[int, int] | None  # (st_dev, st_ino) of the database file


@dataclass(slots=True, eq=False)
class _Connection:
    aio: aiosqlite.Connection
    django: BaseDatabaseWrapper  # the private connection object that opened it
    file: FileIdentity  # of the file it opened (None: a URI name, or not known)

    def alive(self) -> bool:
        """Is aiosqlite's thread there to run a query?"""
        aio: Any = self.aio
        return bool(aio._running and aio._connection is not None and aio._thread.is_alive())

    def discard(self) -> None:
        """Let go without waiting (a dead thread never answers a close())."""
        aio: Any = self.aio
        if aio._thread.is_alive():
            aio.stop()  # closes the connection in its own thread, then ends it
        else:
            aio._connection = None  # the sqlite3 connection is closed when collected


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
        name = str(self._settings["NAME"])
        self._path = None if name.startswith("file:") else name

    def _file(self) -> FileIdentity:
        if self._path is None:
            return None
        try:
            found = os.stat(self._path)
        except OSError:  # gone: the open connection still reads what it opened
            return None
        return (found.st_dev, found.st_ino)

    def _usable(self, connection: _Connection) -> bool:
        if not connection.alive():
            return False
        now = connection.file and self._file()
        return not now or now == connection.file

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
        file = self._file()  # before connecting: a file swapped meanwhile is noticed later
        connection = _Connection(await aio, opened[0], file)
        self._all.append(connection)
        return connection

    def _drop(self, connection: _Connection) -> None:
        self._count -= 1
        self._all.remove(connection)
        connection.discard()

    async def _acquire(self) -> _Connection:
        while True:
            if self._idle.empty() and self._count < self._size:
                self._count += 1
                try:
                    return await self._open()
                except BaseException:
                    self._count -= 1
                    raise
            connection = await self._idle.get()
            if self._usable(connection):
                return connection
            self._drop(connection)

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
            if connection.alive():
                await connection.aio.close()
            else:
                connection.discard()
