"""What a native query looks like to Django: the calling context's connection.

The thread driver runs a task on the connection of the thread asgiref picks for
thread-sensitive work: the sync thread that called ``async_to_sync`` (a sync view,
a ``TestCase`` test), else the ASGI request's thread-sensitive executor, else
asgiref's one process-wide thread.  A native driver runs the task elsewhere, but
everything that watches that connection must still see it:

* ``sync_executor()``: which of those asgiref would use (coalescing keys on it);
* ``calling_connection(alias)``: that connection, when this process has made it,
  else the calling context's own, else ``loop_connection(alias)``, one object per
  thread that compiling and bookkeeping also use (Django would otherwise make a
  new connection object for every asyncio task);
* ``in_transaction(wrapper)``: is it inside ``atomic()``?  Then a
  second connection would not see its uncommitted rows (``"auto"`` stays on the
  thread driver);
* ``watched(wrapper)``: has a tool replaced the connection's ``cursor()`` (the debug
  toolbar does) or Django's ``CursorWrapper.execute`` (APM agents do)?  Only the
  thread driver goes through those (``"auto"`` stays on it);
* ``observed(wrapper, run, sql, params, describe)``: runs a query the way Django's
  ``CursorDebugWrapper`` does: through the connection's ``execute_wrappers``, and,
  when queries are logged (``DEBUG``, ``CaptureQueriesContext``,
  ``assertNumQueries``), with an entry in ``connection.queries`` and a record on
  the ``django.db.backends`` logger.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, cast

from asgiref.sync import AsyncToSync, SyncToAsync, async_to_sync, sync_to_async
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper

logger = logging.getLogger("django.db.backends")

Run = Callable[[str, tuple[Any, ...]], Awaitable[list[Any]]]
Describe = Callable[[str, tuple[Any, ...]], Awaitable[str]]

# The sync-side Django connection objects by (thread ident, alias): a native query
# asks for the one of the thread that the thread driver would have used.  (Inside
# a running event loop Django's connections are per context, not per thread, and
# thread-sensitive work never runs there.)
_by_thread: weakref.WeakValueDictionary[tuple[int, str], BaseDatabaseWrapper] = weakref.WeakValueDictionary()
_ORIGINAL_EXECUTE = CursorWrapper.execute


def install() -> None:
    """Record connection objects as Django creates them (idempotent)."""
    create = connections.create_connection
    if getattr(create, "relations_recording", False):
        return

    @functools.wraps(create)
    def create_connection(alias: str) -> BaseDatabaseWrapper:
        wrapper = create(alias)
        if not _in_event_loop():
            _by_thread[(threading.get_ident(), alias)] = wrapper
        return wrapper

    create_connection.relations_recording = True  # type: ignore[attr-defined]
    connections.create_connection = create_connection  # type: ignore[method-assign]
    if not _in_event_loop():
        for wrapper in connections.all(initialized_only=True):  # made while apps were loading
            _by_thread[(threading.get_ident(), wrapper.alias)] = wrapper


def _in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def sync_executor() -> Any:
    """The executor asgiref would run thread-sensitive work of this context on.

    An outer ``async_to_sync`` caller's thread, else the ``ThreadSensitiveContext``
    (an ASGI request) executor, else None: asgiref's one process-wide thread.
    """
    executor = getattr(AsyncToSync.executors, "current", None)
    if executor is not None:
        return executor
    try:
        executor = AsyncToSync.loop_thread_executors.get(asyncio.get_running_loop())
    except RuntimeError:
        return None
    if executor is not None:
        return executor
    context = SyncToAsync.thread_sensitive_context.get(None)
    return SyncToAsync.context_to_thread_executor.get(context) if context is not None else None


def _executor_thread(executor: Any) -> threading.Thread | None:
    thread: threading.Thread | None = getattr(executor, "_work_thread", None)  # CurrentThreadExecutor
    if thread is None:
        threads = getattr(executor, "_threads", ())  # a one-thread ThreadPoolExecutor
        thread = next(iter(threads), None) if len(threads) == 1 else None
    return thread


def calling_connection(alias: str) -> BaseDatabaseWrapper:
    """The connection object whose observers see a native query for ``alias``.

    The one of the sync thread the thread driver would use, else the calling
    context's own; a context that never touched its connection has nobody watching
    it, and gets this thread's shared one rather than a new object per task.
    """
    thread = _executor_thread(sync_executor())
    if thread is not None and thread.ident is not None:
        wrapper = _by_thread.get((thread.ident, alias))
        if wrapper is not None:
            return wrapper
    own = _own(alias)
    return own if own is not None else loop_connection(alias)


def _own(alias: str) -> BaseDatabaseWrapper | None:
    # The calling context's connection object, if it has one (without creating it).
    own: BaseDatabaseWrapper | None = getattr(cast(Any, connections)._connections, alias, None)
    return own


class _ThreadConnections(threading.local):
    """Connection objects by alias, for the life of one thread."""

    def __init__(self) -> None:
        self.by_alias: dict[str, BaseDatabaseWrapper] = {}


# Inside an event loop Django makes a connection object per asyncio context, so
# per task: compiling and bookkeeping use one per thread instead (no I/O on it).
# Thread-local, so they go with their thread: asgiref's async_to_sync runs each
# call's event loop in a new thread, and a per-request loop must not leave one behind.
_loop_connections = _ThreadConnections()


def loop_connection(alias: str) -> BaseDatabaseWrapper:
    """This thread's connection object for compiling ``alias`` queries (never used for I/O)."""
    by_alias = _loop_connections.by_alias
    wrapper = by_alias.get(alias)
    if wrapper is None or wrapper.settings_dict is not connections.settings[alias]:
        wrapper = by_alias[alias] = connections.create_connection(alias)
    return wrapper


def in_transaction(wrapper: BaseDatabaseWrapper) -> bool:
    """Is ``wrapper`` (a calling connection) or the loop's own connection inside ``atomic()``?"""
    own = _own(wrapper.alias)
    return wrapper.in_atomic_block or (own is not None and own.in_atomic_block)


def watched(wrapper: BaseDatabaseWrapper) -> bool:
    """Is a tool hooked into cursors that only Django's own execution path calls?"""
    return "cursor" in vars(wrapper) or CursorWrapper.execute is not _ORIGINAL_EXECUTE


async def observed(
    wrapper: BaseDatabaseWrapper, run: Run, sql: str, params: tuple[Any, ...], describe: Describe
) -> list[Any]:
    """``await run(sql, params)`` as Django's debug cursor would run it on ``wrapper``."""
    alias = wrapper.alias
    logged = wrapper.queries_logged
    start = time.monotonic()
    try:
        if wrapper.execute_wrappers:
            return await _through_wrappers(wrapper, run, sql, params)
        return await run(sql, params)
    finally:
        if logged:
            duration = time.monotonic() - start
            try:
                shown = await describe(sql, params)
            except Exception:  # the query's own error matters more than its log line
                shown = sql
            wrapper.queries_log.append({"sql": shown, "time": f"{duration:.3f}"})
            logger.debug(
                "(%.3f) %s; args=%s; alias=%s",
                duration,
                shown,
                params,
                alias,
                extra={"duration": duration, "sql": shown, "params": params, "alias": alias},
            )


async def _through_wrappers(
    wrapper: BaseDatabaseWrapper, run: Run, sql: str, params: tuple[Any, ...]
) -> list[Any]:
    # Execute wrappers are plain functions around a blocking executor.  They run in
    # a worker thread whose executor waits for the query in this event loop, so
    # they see (and time) the real query, may change its SQL, or refuse it.
    def executor(sql: str, params: Any, many: bool, context: dict[str, Any]) -> list[Any]:
        return async_to_sync(run)(sql, tuple(params or ()))

    def chain() -> list[Any]:
        call: Callable[..., list[Any]] = executor
        for execute_wrapper in reversed(wrapper.execute_wrappers):
            call = functools.partial(execute_wrapper, call)
        return call(sql, params, False, {"connection": wrapper, "cursor": None})

    return await sync_to_async(chain, thread_sensitive=False)()
