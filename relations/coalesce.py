"""Coalescing of concurrent ``R()`` calls (the DataLoader pattern).

``await asyncio.gather(*(b.R("author") for b in books))`` starts one task per
book; each asks for the same relation in the same event-loop iteration.  Rather
than one query each, the calls join a batch that starts on the next iteration
and loads the relation for all of them with one ``IN`` query per hop; every
caller then gets the value for its own instance.

A batch is keyed by everything that could make the loads differ: the path,
``refresh``, the database, and the sync thread asgiref would use for the calling
context (hence its Django connection: concurrent requests with their own
thread-sensitive contexts never share a transaction they should not see).

A caller that is cancelled leaves the batch to the others; when every caller is
gone, the batch is cancelled too and, like any cancelled loader, writes nothing.
An error reaches every caller of the batch.
"""

from __future__ import annotations

import asyncio
from typing import Any

from django.db.models import Model

from .drivers import observe, run_async
from .loaders import resolve
from .loaders.paths import Loaded, end_value, load_batch

Key = tuple[str, bool, str, int]


class Batch:
    """The ``R()`` calls of one event-loop iteration that share a key."""

    __slots__ = ("callers", "path", "refresh", "task", "waiting")

    def __init__(self, path: str, refresh: bool) -> None:
        self.path = path
        self.refresh = refresh
        self.callers: list[tuple[Model, asyncio.Future[Any]]] = []
        self.waiting = 0
        self.task: asyncio.Task[None] | None = None

    async def run(self, with_peers: bool) -> None:
        instances = list({id(i): i for i, _ in self.callers}.values())
        try:
            loaded: Loaded = await run_async(load_batch(instances, self.path, None, self.refresh, with_peers))
        except BaseException as exc:
            for _, future in self.callers:
                if future.done():
                    continue
                if isinstance(exc, Exception):
                    future.set_exception(exc)
                else:
                    future.cancel()
            if not isinstance(exc, Exception):
                raise
            return
        many: dict[type[Model], bool] = {}  # does the path give a list, per model
        for instance, future in self.callers:
            if not future.done():
                model = type(instance)
                if model not in many:
                    many[model] = resolve.is_many(model, self.path)
                future.set_result(end_value(instance, loaded, many[model]))

    def leave(self) -> None:
        """A caller was cancelled: the batch goes on only while someone waits for it."""
        self.waiting -= 1
        if self.waiting <= 0 and self.task is not None and not self.task.done():
            self.task.cancel()


_open: dict[asyncio.AbstractEventLoop, dict[Key, Batch]] = {}


def _start(loop: asyncio.AbstractEventLoop, key: Key, batch: Batch, with_peers: bool) -> None:
    batches = _open.get(loop)
    if batches is not None:
        batches.pop(key, None)
        if not batches:
            del _open[loop]
    if batch.waiting:
        batch.task = loop.create_task(batch.run(with_peers))


async def load(instance: Model, path: str, refresh: bool, with_peers: bool) -> Any:
    """``R(instance, path)`` as part of this iteration's batch for the same relation."""
    loop = asyncio.get_running_loop()
    db = instance._state.db or "default"
    # Callers that the thread driver would serve on the same sync thread (hence the
    # same Django connection and transaction) may share a query; others may not.
    key = (path, refresh, db, id(observe.sync_executor()))
    batches = _open.setdefault(loop, {})
    batch = batches.get(key)
    if batch is None:
        batch = batches[key] = Batch(path, refresh)
        loop.call_soon(_start, loop, key, batch, with_peers)
    future: asyncio.Future[Any] = loop.create_future()
    batch.callers.append((instance, future))
    batch.waiting += 1
    try:
        return await future
    except asyncio.CancelledError:
        batch.leave()
        raise
