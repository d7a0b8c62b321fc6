"""PostgreSQL on psycopg's ``AsyncConnection``: a bounded pool per alias and event loop.

Each pooled connection is opened by Django itself: a private ``DatabaseWrapper``
for the alias runs ``connect()`` in a worker thread (``get_connection_params``
with Django's adapters, client-side binding and ``prepare_threshold``, the
isolation level, the time zone, ``assume_role``, ``connection_created`` with a
working connection for receivers), and the asynchronous connection then takes
over that session's socket with a copy of its adapters.  So the session is set
up exactly as Django sets up its own, and no sync I/O happens in the event loop.
Only the pool (``psycopg_pool.AsyncConnectionPool``) hands connections out: at
most ``RELATIONS["NATIVE_POOL_SIZE"]`` per alias and event loop, waiting at most
``RELATIONS["NATIVE_TIMEOUT"]`` seconds for one.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import math
import threading
import weakref
from typing import Any

import psycopg
from asgiref.sync import sync_to_async
from django.db import OperationalError
from django.db.backends.base.base import BaseDatabaseWrapper
from psycopg.adapt import AdaptersMap
from psycopg_pool import AsyncConnectionPool, PoolTimeout


class _SessionLostError(Exception):
    """The server had ended a pooled session before this query: it may run again."""


class _CancelledConnectAttempt(logging.Filter):
    """Drop psycopg_pool's "error connecting in 'relations-...': " for a cancelled attempt.

    When an event loop shuts down it cancels the pool's task that is opening a
    session; the pool logs that cancellation as a connection error with an empty
    message (``str(CancelledError())``).  Nothing failed: the attempt was abandoned
    and the session it was opening is closed (``_Opening``).  Real connection errors
    still get through.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        return not (
            record.msg == "error connecting in %r: %s"
            and isinstance(args, tuple)
            and len(args) == 2
            and str(args[0]).startswith(POOL_PREFIX)
            and isinstance(args[1], asyncio.CancelledError)
        )


POOL_PREFIX = "relations-"
logging.getLogger("psycopg.pool").addFilter(_CancelledConnectAttempt())


class DjangoAsyncConnection(psycopg.AsyncConnection[Any]):
    """An async connection on a session that Django opened and configured."""

    django: BaseDatabaseWrapper  # the private connection object that opened it

    @classmethod
    async def connect(cls, conninfo: str = "", **kwargs: Any) -> DjangoAsyncConnection:
        """Open through Django (``kwargs["backend"]`` says for which alias)."""
        backend: PostgresBackend = kwargs["backend"]
        opening = _Opening(backend)
        try:
            django = await sync_to_async(opening.run, thread_sensitive=False)()
        except asyncio.CancelledError:
            opening.abandon()
            raise
        except Exception as exc:
            backend.last_error = exc
            raise
        sync = django.connection
        connection = cls(sync.pgconn)
        # What psycopg's own connect() sets from its arguments, taken from the
        # session Django configured (its adapters context, binding, autocommit).
        connection._adapters = AdaptersMap(sync.adapters)
        connection._autocommit = True
        connection.prepare_threshold = sync.prepare_threshold
        client_binding = issubclass(sync.cursor_factory, psycopg.ClientCursor)
        connection.cursor_factory = psycopg.AsyncClientCursor if client_binding else psycopg.AsyncCursor
        connection.django = django
        backend.opened.add(connection)
        return connection


class _Opening:
    """One session being opened in a worker thread.

    If its caller is cancelled (the pool gave up, the event loop is shutting down),
    the session is closed by whichever side gets there second: the thread once it
    has connected, or the caller if it already had.  Neither needs the event loop.
    """

    def __init__(self, backend: PostgresBackend) -> None:
        self.backend = backend
        self.lock = threading.Lock()
        self.abandoned = False
        self.django: BaseDatabaseWrapper | None = None

    def run(self) -> BaseDatabaseWrapper:
        django = self.backend.open_django()
        with self.lock:
            if not self.abandoned:
                self.django = django
                return django
        django.connection.close()
        raise asyncio.CancelledError

    def abandon(self) -> None:
        with self.lock:
            self.abandoned = True
            django, self.django = self.django, None
        if django is not None:
            django.connection.close()


class PostgresBackend:
    """The native pool of one alias (opened on first use)."""

    vendor = "postgresql"

    def __init__(self, template: BaseDatabaseWrapper, size: int, timeout: float) -> None:
        self.alias = template.alias
        settings = copy.deepcopy(template.settings_dict)
        settings["OPTIONS"].pop("pool", None)  # this pool replaces Django's
        # A server that accepts and never answers must not hold a worker thread (and
        # interpreter exit) forever: bound each attempt unless the project did.
        settings["OPTIONS"].setdefault("connect_timeout", max(2, math.ceil(timeout)))
        self._settings = settings
        self._wrapper_class = type(template)
        self.timeout = timeout
        self.server_version: int | None = None
        self.last_error: Exception | None = None  # of the latest failed connection attempt
        self._pool: AsyncConnectionPool[DjangoAsyncConnection] = AsyncConnectionPool(
            connection_class=DjangoAsyncConnection,
            kwargs={"backend": self},
            min_size=0,
            max_size=size,
            open=False,
            timeout=timeout,
            name=f"{POOL_PREFIX}{self.alias}",
        )
        self._opening = asyncio.Lock()
        self._open = False
        self.opened: weakref.WeakSet[DjangoAsyncConnection] = weakref.WeakSet()

    def open_django(self) -> BaseDatabaseWrapper:
        """Open a session with Django's connection setup (in a worker thread)."""
        django = self._wrapper_class(self._settings, self.alias)
        django.connect()
        self.server_version = django.connection.info.server_version
        return django

    async def _opened(self) -> AsyncConnectionPool[DjangoAsyncConnection]:
        if not self._open:
            async with self._opening:
                if not self._open:
                    await self._pool.open(wait=False)
                    self._open = True
        return self._pool

    async def _get(self) -> DjangoAsyncConnection:
        pool = await self._opened()
        try:
            return await pool.getconn()
        except PoolTimeout as exc:
            cause = self.last_error
            why = f"; last attempt: {cause}" if cause is not None else ""
            raise OperationalError(
                f"No PostgreSQL connection for database alias {self.alias!r} within "
                f'{self.timeout:g} s (RELATIONS["NATIVE_TIMEOUT"]): {exc}{why}'
            ) from (cause or exc)

    async def fetchall(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        """Run one SELECT on a pooled connection and return its rows.

        A session that the server ended while it sat in the pool (a failover,
        ``idle_session_timeout``, ``pg_terminate_backend``, a proxy restart) fails
        its next query; the SELECT then runs once more on a fresh session, after the
        pool dropped the other idle sessions that died with it.  That is safe: the
        sessions are in autocommit, a SELECT changes nothing, and no row of the
        failed attempt reached anyone.  Errors of a live session (a cancelled
        statement, a timeout) are not retried; nor is the retry itself.
        """
        try:
            return await self._fetchall(sql, params)
        except _SessionLostError:
            await self._pool.check()
            return await self._fetchall(sql, params, retry=False)

    async def _fetchall(self, sql: str, params: tuple[Any, ...], *, retry: bool = True) -> list[Any]:
        connection = await self._get()
        try:
            # Django's error wrapper: psycopg errors become django.db errors.
            with connection.django.wrap_database_errors:
                async with connection.cursor() as cursor:
                    await cursor.execute(sql, params)
                    return await cursor.fetchall()
        except OperationalError as exc:
            if retry and connection.broken and connection.autocommit:
                raise _SessionLostError from exc
            raise
        finally:
            # Shielded: a cancelled caller must still hand its connection back.
            await asyncio.shield(self._pool.putconn(connection))

    async def ensure_version(self) -> int:
        """The server version (connects once if no connection was opened yet)."""
        if self.server_version is None:
            await self._pool.putconn(await self._get())
        assert self.server_version is not None
        return self.server_version

    async def describe(self, sql: str, params: tuple[Any, ...]) -> str:
        """The query with its parameters bound client-side, as Django logs it."""
        connection = await self._get()
        try:
            return psycopg.AsyncClientCursor(connection).mogrify(sql, params)
        finally:
            await self._pool.putconn(connection)

    async def aclose(self) -> None:
        """Close the pool and its connections."""
        if self._open:
            self._open = False
            try:
                await self._pool.close()
            finally:
                # When the loop shuts down it cancels the pool's workers along with
                # the task closing it, and the pool's close() gives up half-way.
                for connection in list(self.opened):
                    if not connection.closed:
                        await connection.close()
