#!/usr/bin/env python
"""What the reliability work of issue 11 costs, and what a per-request event loop leaves behind.

    .venv/dj61/bin/python benchmarks/reliability.py                 # SQLite file in a temp dir
    .venv/dj61/bin/python benchmarks/reliability.py --db postgres   # scratch database relations_bench

Same data as ``benchmarks/run.py`` (1,000 authors, 10,000 books, seed 42).  Rows:

* ``commit``: ``prefetch(1,000 books, "author", "tags")`` and 1,000 ``R("author").sync()``
  calls, with the commit's undo record (all-or-nothing writes) and without it;
* ``checkout``: 1,000 sequential native ``await R("author")`` calls (peers off), with
  the connection check on checkout (SQLite: ``stat()`` of the file; PostgreSQL: no
  check, a SELECT that found its session dead runs again) and, for comparison,
  without it (SQLite) or with psycopg_pool's ``check=`` (a round trip per checkout);
* ``failover`` (PostgreSQL): every idle pooled session is terminated, then one ``R()``:
  how long it takes and whether it failed;
* ``wrappers``: Django ``DatabaseWrapper`` objects alive after 200 requests that each
  run in their own event loop (``async_to_sync`` per request, as a WSGI server does
  for async views), before and after ``gc.collect()``, per request kind.

Medians over ``--rounds`` rounds (default 7).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from pgscratch import pg_admin  # noqa: E402
from run import PG_DB, configure, create_and_seed  # noqa: E402

N = 1_000
REQUESTS = 200


def median_of(rounds: int, once: Callable[[], float]) -> float:
    once()  # warm-up
    return statistics.median(once() for _ in range(rounds))


def commit_rows(rounds: int) -> list[tuple[str, float, str]]:
    from benchapp.models import Book

    from relations import prefetch
    from relations.loaders import pending

    def prefetched() -> float:
        books = list(Book.objects.order_by("pk")[:N])
        start = time.perf_counter()
        prefetch(books, "author", "tags")
        return time.perf_counter() - start

    def single() -> float:
        books = list(Book.objects.order_by("pk")[:N])
        start = time.perf_counter()
        for book in books:
            book.R("author").sync()
        return time.perf_counter() - start

    rows = []
    touch = pending._Undo.touch
    for label, patched in (("with undo record", False), ("without the undo record", True)):
        if patched:
            pending._Undo.touch = lambda self, objects: None  # type: ignore[method-assign]
        try:
            rows.append(
                (f"prefetch 1,000 books author+tags, {label}", median_of(rounds, prefetched) * 1e3, "ms")
            )
            rows.append((f"1,000 R('author').sync() (peers), {label}", median_of(rounds, single) * 1e3, "ms"))
        finally:
            pending._Undo.touch = touch  # type: ignore[method-assign]
    return rows


def in_new_loop(body: Callable[[], Any]) -> Any:
    from asgiref.sync import async_to_sync

    from relations.drivers import native

    async def wrapper() -> Any:
        try:
            return await body()
        finally:
            await native.aclose()

    return async_to_sync(wrapper)()


def sequential_r(rounds: int) -> float:
    from benchapp.models import Book
    from django.test.utils import override_settings

    def once() -> float:
        books = list(Book.objects.order_by("pk")[:N])

        async def body() -> float:
            await books[0].R("author")  # the connection opens outside the timing
            start = time.perf_counter()
            for book in books[1:]:
                await book.R("author")
            return (time.perf_counter() - start) / (len(books) - 1)

        with override_settings(RELATIONS={"ASYNC_DRIVER": "native", "PEERS": False}):
            result: float = in_new_loop(body)
        return result

    return median_of(rounds, once) * 1e6


def checkout_rows(rounds: int, vendor: str) -> list[tuple[str, float, str]]:
    rows = [(f"native R('author') per call, {vendor}, default", sequential_r(rounds), "µs")]
    if vendor == "sqlite":
        from relations.drivers.sqlite import SQLiteBackend

        usable = SQLiteBackend._usable
        SQLiteBackend._usable = lambda self, connection: True  # type: ignore[method-assign]
        try:
            rows.append(
                ("native R('author') per call, sqlite, no check on checkout", sequential_r(rounds), "µs")
            )
        finally:
            SQLiteBackend._usable = usable  # type: ignore[method-assign]
    else:
        from psycopg_pool import AsyncConnectionPool

        original = AsyncConnectionPool.__init__

        def with_check(self: Any, *args: Any, **kwargs: Any) -> None:
            original(self, *args, check=AsyncConnectionPool.check_connection, **kwargs)

        AsyncConnectionPool.__init__ = with_check  # type: ignore[method-assign]
        try:
            rows.append(
                ("native R('author') per call, postgres, pool check= on checkout", sequential_r(rounds), "µs")
            )
        finally:
            AsyncConnectionPool.__init__ = original  # type: ignore[method-assign]
    return rows


def failover_rows(rounds: int) -> list[tuple[str, float, str]]:
    import psycopg
    from benchapp.models import Book
    from django.db import connections
    from django.test.utils import override_settings

    from relations.drivers import native

    sd = connections["default"].settings_dict
    info = {
        "dbname": sd["NAME"],
        "user": sd["USER"],
        "host": sd["HOST"],
        "port": sd["PORT"],
        "autocommit": True,
    }
    with connections["default"].cursor() as cursor:  # Django's own session stays
        cursor.execute("SELECT pg_backend_pid()")
        own = cursor.fetchone()[0]
    failures = 0
    times = []
    for _ in range(rounds):
        books = list(Book.objects.order_by("pk")[:8])

        async def body(books: list[Any] = books) -> float:
            nonlocal failures
            found = await native.prepare("default")
            await asyncio.gather(*(found.fetchall("SELECT pg_sleep(0.02)", ()) for _ in range(4)))
            async with await psycopg.AsyncConnection.connect(**info) as observer:
                await observer.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND backend_type = 'client backend'"
                    " AND pid <> pg_backend_pid()"
                    " AND pid <> %s",
                    [own],
                )
            await asyncio.sleep(0.05)  # the backends exit
            start = time.perf_counter()
            try:
                await books[0].R("author")
            except Exception:
                failures += 1
            return time.perf_counter() - start

        with override_settings(RELATIONS={"ASYNC_DRIVER": "native", "PEERS": False, "NATIVE_POOL_SIZE": 4}):
            times.append(in_new_loop(body))
    return [
        ("first R() after all 4 idle sessions were terminated", statistics.median(times) * 1e3, "ms"),
        (f"  ... of which failed (out of {rounds})", float(failures), "calls"),
    ]


def wrapper_rows(vendor: str) -> list[tuple[str, float, str]]:
    from asgiref.sync import sync_to_async
    from benchapp.models import Author, Book, Tag
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.test.utils import override_settings

    def alive() -> int:
        return sum(issubclass(type(o), BaseDatabaseWrapper) for o in gc.get_objects())  # no lazy-object setup

    async def plain() -> None:  # the same rows through Django's own async ORM
        book = await Book.objects.aget(pk=1)
        await Author.objects.aget(pk=book.author_id)
        await sync_to_async(lambda: list(Tag.objects.filter(books=book)))()

    async def library() -> None:
        book = await Book.objects.aget(pk=1)
        await book.R("author")
        await book.R("tags")

    rows = []
    kinds = [("plain Django: aget x2, m2m rows via sync_to_async", plain, "thread")]
    kinds += [
        (f"aget + R('author') + R('tags'), {driver}", library, driver) for driver in ("thread", "native")
    ]
    for label, request, driver in kinds:
        gc.collect()
        before = alive()
        with override_settings(RELATIONS={"ASYNC_DRIVER": driver}):
            for _ in range(REQUESTS):
                in_new_loop(request)
        grown = alive() - before
        gc.collect()
        kept = alive() - before
        rows.append((f"{label}: per request, before gc.collect()", grown / REQUESTS, "wrappers"))
        rows.append((f"{label}: left after gc.collect() ({vendor})", float(kept), "wrappers"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    tmpdir = tempfile.mkdtemp(prefix="relations-reliability-")
    if args.db == "postgres":
        pg_admin(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
        pg_admin(f"CREATE DATABASE {PG_DB}")
    try:
        configure(args.db, tmpdir)
        create_and_seed()
        rows = commit_rows(args.rounds)
        rows += checkout_rows(args.rounds, args.db)
        if args.db == "postgres":
            rows += failover_rows(args.rounds)
        rows += wrapper_rows(args.db)
        width = max(len(r[0]) for r in rows)
        for name, value, unit in rows:
            print(f"{name:<{width}}  {value:>10.2f} {unit}")
    finally:
        from django.db import connections

        connections.close_all()
        shutil.rmtree(tmpdir, ignore_errors=True)
        if args.db == "postgres":
            pg_admin(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")


if __name__ == "__main__":
    main()
