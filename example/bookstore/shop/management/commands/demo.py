"""``manage.py demo``: recreate the database, seed a bookstore, run an async tour.

Every query count below is measured with Django's own ``CaptureQueriesContext`` on
the connection that ran the query.  The async scenario is driven by asgiref's
``async_to_sync`` from this command's thread, so the ORM work of ``await`` calls
(Django's ``a*`` methods and the library's thread driver alike) runs on this
thread's connection, the one being captured.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import django
from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.test.utils import CaptureQueriesContext, override_settings

from relations import RelationNotLoaded, aprefetch

from ...models import Author, Book, Comment
from ...seed import N_BOOKS, recreate_database, seed

WIDTH = 60  # width of the left column of the report


class Counter:
    """The queries captured by one ``counted()`` block, and its wall time."""

    def __init__(self) -> None:
        self.sql: list[str] = []
        self.seconds = 0.0

    def __len__(self) -> int:
        return len(self.sql)

    @property
    def label(self) -> str:
        n = len(self.sql)
        return f"{n:,} quer{'y' if n == 1 else 'ies'}"


@asynccontextmanager
async def counted() -> AsyncIterator[Counter]:
    """Count the queries run inside the block, with Django's CaptureQueriesContext.

    The capture is entered and left through ``sync_to_async`` (thread-sensitive):
    there, ``connection`` is the connection of the thread that runs the ORM work.
    Only the block itself is timed, not those two hops.
    """
    counter = Counter()

    def enter() -> CaptureQueriesContext:
        # connections[...] here, not the `connection` proxy: the proxy would resolve
        # to the event loop thread's (unused) connection when read from async code.
        return CaptureQueriesContext(connections[DEFAULT_DB_ALIAS]).__enter__()

    def leave(capture: CaptureQueriesContext) -> list[str]:
        capture.__exit__(None, None, None)
        return [q["sql"] for q in capture.captured_queries]

    capture = await sync_to_async(enter)()
    start = time.perf_counter()
    try:
        yield counter
    finally:
        counter.seconds = time.perf_counter() - start
        counter.sql = await sync_to_async(leave)(capture)


def short_sql(sql: str) -> str:
    """One query on one line: long IN lists and column lists elided."""
    sql = re.sub(r"IN \(([^()]*)\)", lambda m: f"IN ({len(m.group(1).split(','))} values)", sql)
    sql = re.sub(r"^SELECT (.*?) FROM", "SELECT ... FROM", sql)
    return sql


class Command(BaseCommand):
    help = "Recreate the example database, seed a bookstore, and run the async demo."

    def handle(self, *args: Any, **options: Any) -> None:
        self.out = self.stdout
        recreate_database()
        counts = seed()
        db = connection.settings_dict["NAME"]
        vendor = connection.display_name
        if connection.vendor == "sqlite":
            vendor += f" {connection.Database.sqlite_version}"
        self.line(
            f"django-strict-relations demo | Python {sys.version.split()[0]}, "
            f"Django {django.get_version()}, {vendor}"
        )
        self.line(f"Database {db}: recreated, migrated and seeded with")
        self.line("  " + ", ".join(f"{n:,} {what}" for what, n in counts.items()) + ".")
        self.line('Mode: RELATIONS = {"MODE": "raise"} (the default).')
        # The scenario runs in an event loop; its ORM work runs on this thread.
        async_to_sync(self.scenario)()

    # -- output -----------------------------------------------------------------

    def line(self, text: str = "") -> None:
        self.out.write(text)

    def heading(self, text: str) -> None:
        self.line()
        self.line(text)
        self.line("-" * len(text))

    def row(self, left: str, counter: Counter | None = None, result: str = "") -> None:
        right = counter.label if counter is not None else ""
        text = f"  {left:<{WIDTH}} {right:>12}"
        if result:
            text += f"   {result}"
        self.line(text.rstrip())

    # -- the async scenario -------------------------------------------------------

    async def scenario(self) -> None:
        await self.part_error()
        await self.part_load()
        await self.part_batch()

    async def part_error(self) -> None:
        self.heading("1. Reading a relation that is not loaded raises, with the fix in the message")
        async with counted() as q:
            book = await Book.objects.aget(pk=1)
        self.row("book = await Book.objects.aget(pk=1)", q, f"{book.title!r}")
        async with counted() as q:
            try:
                book.author  # noqa: B018 - the read is the point
            except RelationNotLoaded as exc:
                error: RelationNotLoaded | None = exc
            else:
                error = None
        if error is None:
            self.row("book.author", q, "UNEXPECTED: no RelationNotLoaded")
            return
        self.row("book.author", q, f"raises {type(error).__name__}:")
        self.line()
        for text in str(error).splitlines():
            self.line(f"    | {text}")

    async def part_load(self) -> None:
        self.heading("2. Loading explicitly with R(): one query, then plain access is free")
        book = await Book.objects.aget(pk=1)

        async with counted() as q:
            author = await book.R("author")
        self.row('author = await book.R("author")', q, repr(author))
        async with counted() as q:
            again = book.author
        self.row("book.author  (plain access)", q, f"same object: {again is author}")
        async with counted() as q:
            await book.R("author")
        self.row('await book.R("author")  (again: already loaded)', q)

        async with counted() as q:
            tags = await book.R("tags")
        self.row('tags = await book.R("tags")', q, str(sorted(t.name for t in tags)))
        async with counted() as q:
            names = [t.name for t in book.tags.all()]
        self.row("book.tags.all()  (served from the cache)", q, f"{len(names)} tag(s)")

        async with counted() as q:
            publisher = await book.R("author__publisher")
        self.row('pub = await book.R("author__publisher")', q, f"{publisher!r} (author hop was cached)")
        fresh = await Book.objects.aget(pk=2)
        async with counted() as q:
            publisher = await fresh.R("author__publisher")
        self.row('other_book.R("author__publisher")  (nothing cached)', q, f"{publisher!r}, one per hop")
        async with counted() as q:
            chain = fresh.author.publisher.name
        self.row("other_book.author.publisher.name", q, repr(chain))

        async with counted() as q:
            comments = await book.R("comments")
        self.row('await book.R("comments")  (generic relation)', q, str([c.text for c in comments]))
        comment = await Comment.objects.filter(content_type__model="author").order_by("pk").afirst()
        assert comment is not None
        async with counted() as q:
            target = await comment.R("target")
        self.row('await comment.R("target")  (generic foreign key)', q, repr(target))
        author = await Author.objects.aget(pk=5)
        async with counted() as q:
            profile = await author.R("profile")
        self.row('await author.R("profile")  (reverse one-to-one)', q, repr(profile))

    async def part_batch(self) -> None:
        self.heading(f"3. N+1 versus batching: {N_BOOKS:,} books")
        self.line("  Each case starts from freshly fetched books (nothing loaded).")
        self.line()
        self.line(f"  {'':<{WIDTH}} {'queries':>12} {'wall time':>11}")

        books = [b async for b in Book.objects.order_by("pk")]
        # Without peers, the loop is the classic N+1: one query per book.
        with override_settings(RELATIONS={**settings.RELATIONS, "PEERS": False}):
            async with counted() as naive:
                for b in books:
                    await b.R("author")
        self.timed_row('for b in books: await b.R("author")   (N+1, PEERS off)', naive)
        async with counted() as q:
            _ = [b.author.name for b in books]
        self.timed_row("  then: [b.author.name for b in books]", q)

        books = [b async for b in Book.objects.order_by("pk")]
        async with counted() as q:
            await books[0].R("author")
        self.timed_row(f'await books[0].R("author")   (PEERS on: all {len(books):,})', q)
        async with counted() as q:
            _ = [b.author.name for b in books]
        self.timed_row("  then: [b.author.name for b in books]", q)

        books = [b async for b in Book.objects.order_by("pk")]
        async with counted() as one:
            await aprefetch(books, "author")
        self.timed_row('await aprefetch(books, "author")', one)

        books = [b async for b in Book.objects.order_by("pk")]
        async with counted() as batch:
            await aprefetch(books, "author", "tags")
        self.timed_row('await aprefetch(books, "author", "tags")', batch)
        async with counted() as q:
            _ = [(b.author.name, [t.name for t in b.tags.all()]) for b in books]
        self.timed_row("  then: every b.author and b.tags.all()", q)

        self.line()
        self.line(f'  The {len(batch)} queries of aprefetch(books, "author", "tags"):')
        for sql in batch.sql:
            self.line(f"    {short_sql(sql)}")
        self.line()
        if len(one) and one.seconds:
            self.line(
                f'  aprefetch(books, "author") ran {len(naive) / len(one):,.0f}x fewer queries than the loop '
                f"and was {naive.seconds / one.seconds:,.0f}x faster on this run;"
            )
            self.line(
                f'  aprefetch(books, "author", "tags") loads the tags too and still ran '
                f"{naive.seconds / batch.seconds:,.0f}x faster."
            )
        self.line("  (Query counts are deterministic; wall times vary from run to run.)")

    def timed_row(self, left: str, counter: Counter) -> None:
        self.line(f"  {left:<{WIDTH}} {len(counter):>12,} {counter.seconds * 1000:>8.1f} ms")
