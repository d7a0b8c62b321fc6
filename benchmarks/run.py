#!/usr/bin/env python
"""Benchmarks of django-strict-relations against Django's own loading, in one process.

    .venv/dj61/bin/python benchmarks/run.py                 # SQLite file in a temp dir
    .venv/dj61/bin/python benchmarks/run.py --db postgres   # scratch database relations_bench
    .venv/dj61/bin/python benchmarks/run.py --rounds 15     # more rounds (default 7)
    .venv/dj61/bin/python benchmarks/run.py --drivers thread --groups per-call,concurrency

Seeds the performance baseline's data (20 publishers, 1,000 authors, 10,000 books
with a Decimal and a DateTime column, 50 tags, about 15,000 book-tag links; seed
42), then runs every case once as a warm-up (which also counts each case's queries,
in every thread and event-loop task, through the ``django.db.backends`` logger
with DEBUG on, and checks that the relations really are loaded afterwards) and then
``--rounds`` measured rounds.  Each case starts from fresh instances built outside
the timed part, so every round measures the same work.  ``gc.collect()`` runs
before each case and the order of the cases of a group rotates from round to round.
Tables show the median and the min-max over the rounds and the ratio to the
group's reference row; the closing table checks the targets of issue 3.

Every async case runs on one event loop that lives for the whole run, driven from
the main thread with ``run_until_complete`` (as an ASGI server drives a view):
native connections stay open between cases, and ``sync_to_async`` work runs on
asgiref's single sync thread with its own Django connection, as under ASGI.  Sync
cases run in the main thread while the loop is idle.

The async driver of ``R()``/``aprefetch()`` is chosen per case with the
``RELATIONS["ASYNC_DRIVER"]`` setting: one row per driver in ``--drivers``
(default: every driver the library has among "native" and "thread").

PostgreSQL: 127.0.0.1:5432, user postgres (PGHOST, PGPORT, PGUSER override); the
scratch database (``relations_bench``, or $RELATIONS_BENCH_PG_NAME) is created and
dropped by the run.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import decimal
import gc
import json
import logging
import os
import platform
import random
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Generator, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import django
from django.conf import settings

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))  # the benchapp models
try:
    import relations  # noqa: F401  (pip-installed)
except ImportError:
    sys.path.insert(1, str(REPO))  # this checkout

from pgscratch import pg_admin, pg_params  # noqa: E402  (benchmarks/, on the path above)

N_PUBLISHERS = 20
N_AUTHORS = 1_000
N_BOOKS = 10_000
N_TAGS = 50
N_SAMPLE = 1_000  # books per per-call, concurrency and forward batch case
CONCURRENCY = (1, 10, 100)
N_CORE_TASKS = 100_000
PG_DB = os.environ.get("RELATIONS_BENCH_PG_NAME", "relations_bench")
KNOWN_DRIVERS = ("native", "thread")
GROUPS = ("batch", "per-call", "lazy-loader", "concurrency", "core")
N_SOLO_AUTHORS = 200  # authors (about 10 books each) of the to-many per-call case

# The event loop every async case runs on (created in main()).
LOOP: asyncio.AbstractEventLoop | None = None


# -- set-up -------------------------------------------------------------------------


def configure(db: str, tmpdir: str) -> None:
    if db == "postgres":
        params = pg_params()
        database = {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": PG_DB,
            "USER": params["user"],
            "HOST": params["host"],
            "PORT": params["port"],
        }
    else:
        database = {"ENGINE": "django.db.backends.sqlite3", "NAME": os.path.join(tmpdir, "bench.sqlite3")}
    settings.configure(
        DEBUG=False,
        SECRET_KEY="benchmarks",
        USE_TZ=True,
        TIME_ZONE="UTC",
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        INSTALLED_APPS=["relations", "benchapp"],
        DATABASES={"default": database},
        RELATIONS={"MODE": "raise"},
    )
    django.setup()


def create_and_seed() -> None:
    """The baseline's data set: deterministic (seed 42), a random author per book."""
    from benchapp.models import Author, Book, Publisher, Tag
    from django.db import connection, transaction

    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:  # as in the baseline; the mode stays with the file
            cursor.execute("PRAGMA journal_mode=wal")
    with connection.schema_editor() as editor:
        for model in (Publisher, Tag, Author, Book):
            editor.create_model(model)  # the M2M table comes with Book
    rng = random.Random(42)
    start = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
    with transaction.atomic():
        Publisher.objects.bulk_create(
            Publisher(pk=i, name=f"Publisher {i}") for i in range(1, N_PUBLISHERS + 1)
        )
        Tag.objects.bulk_create(Tag(pk=i, name=f"tag{i}") for i in range(1, N_TAGS + 1))
        Author.objects.bulk_create(
            Author(pk=i, name=f"Author {i}", publisher_id=rng.randint(1, N_PUBLISHERS))
            for i in range(1, N_AUTHORS + 1)
        )
        Book.objects.bulk_create(
            (
                Book(
                    pk=i,
                    title=f"Book {i}",
                    author_id=rng.randint(1, N_AUTHORS),
                    price=decimal.Decimal(rng.randint(100, 99_999)) / 100,
                    published=start + datetime.timedelta(seconds=rng.randint(0, 20 * 365 * 86_400)),
                )
                for i in range(1, N_BOOKS + 1)
            ),
            batch_size=2_000,
        )
        link = Book.tags.through
        link.objects.bulk_create(
            (
                link(book_id=i, tag_id=t)
                for i in range(1, N_BOOKS + 1)
                for t in rng.sample(range(1, N_TAGS + 1), rng.randint(0, 3))
            ),
            batch_size=2_000,
        )


# -- the cases ----------------------------------------------------------------------


@dataclass
class Case:
    name: str
    setup: Callable[[], Any]  # untimed; returns the state the case works on
    run: Callable[[Any], float]  # returns the seconds of the timed part
    check: Callable[[Any], None] | None = None  # after the warm-up: is the work really done?
    key: str = ""  # how the targets find the row
    context: Callable[[], AbstractContextManager[Any]] = nullcontext  # around setup and run (untimed)
    queries: int | None = None  # counted in the warm-up
    samples: list[float] = field(default_factory=list)


@dataclass
class Group:
    key: str
    title: str
    unit: str  # "ms", "us", "ns": time per ``per``; "loads/s": ``per`` loads / time
    per: int
    cases: list[Case]
    note: str = ""
    reference: str = ""  # key of the row the ratios compare to

    def case(self, key: str) -> Case | None:
        return next((c for c in self.cases if c.key == key), None)


def in_loop(coroutine_function: Callable[[Any], Coroutine[Any, Any, float]]) -> Callable[[Any], float]:
    """Run an async timed case on the run's event loop."""
    assert LOOP is not None
    loop = LOOP

    return lambda state: loop.run_until_complete(coroutine_function(state))


def timed(function: Callable[[Any], Any]) -> Callable[[Any], float]:
    def run(state: Any) -> float:
        start = time.perf_counter()
        function(state)
        return time.perf_counter() - start

    return run


def available_drivers() -> list[str]:
    from relations import drivers

    return [d for d in KNOWN_DRIVERS if d in drivers.ASYNC_DRIVERS]


def coalesce_key() -> str | None:
    """The setting that turns coalescing of concurrent R() calls off, if the library has one."""
    from relations import conf

    keys = getattr(conf, "_KEYS", ())
    return next((k for k in ("COALESCE", "COALESCING") if k in keys), None)


def relations_setting(driver: str | None = None, coalesce: bool | None = None) -> Callable[[], Any]:
    """A context factory: ``RELATIONS`` with this async driver (and coalescing on or off)."""
    from django.test.utils import override_settings

    value: dict[str, Any] = {"MODE": "raise"}
    if driver is not None:
        value["ASYNC_DRIVER"] = driver
    if coalesce is not None:
        key = coalesce_key()
        assert key is not None
        value[key] = coalesce
    return lambda: override_settings(RELATIONS=value)


def lazy_loader_setting(loader: str) -> Callable[[], Any]:
    """A context factory: ``mode "lazy"`` reads served by ``LAZY_LOADER = loader``, peers off."""
    from django.test.utils import override_settings

    return lambda: override_settings(RELATIONS={"MODE": "lazy", "LAZY_LOADER": loader, "PEERS": False})


def build_groups(drivers: list[str], wanted: set[str]) -> list[Group]:
    from asgiref.sync import sync_to_async
    from benchapp.models import Author, Book
    from django.db import connection
    from django.db.models import aprefetch_related_objects, prefetch_related_objects
    from django.db.models.fields.related_descriptors import (
        ForwardManyToOneDescriptor,
        ReverseManyToOneDescriptor,
    )
    from django.test.utils import CaptureQueriesContext

    from relations import aprefetch, mode, prefetch
    from relations.drivers import core, run_async

    attnames = [f.attname for f in Book._meta.concrete_fields]
    book_rows = list(Book.objects.filter(pk__lte=N_SAMPLE).order_by("pk").values_list(*attnames))
    db_alias = connection.alias

    def solo_books() -> list[Any]:
        # One Model.from_db() per row: the instances have no peers, so every R() below
        # is a load of its own (peers would load the whole list on the first call).
        return [Book.from_db(db_alias, attnames, row) for row in book_rows]

    def batch_books() -> list[Any]:
        return list(Book.objects.filter(pk__lte=N_SAMPLE).order_by("pk"))

    def all_authors() -> list[Any]:
        return list(Author.objects.order_by("pk"))

    def no_queries(label: str, read: Callable[[], Any]) -> None:
        with CaptureQueriesContext(connection) as q:
            read()
        if len(q):
            raise AssertionError(f"{label}: reading after the load ran {len(q)} queries")

    # What every loaded object must hold, read by Django's sync ORM: a driver that
    # builds objects itself must give the same values (Decimal, aware datetime).
    author_values = {
        pk: (name, publisher)
        for pk, name, publisher in Author.objects.values_list("pk", "name", "publisher_id")
    }
    book_values = {row[0]: row[1:] for row in Book.objects.values_list("pk", *attnames[1:])}

    def authors_loaded(books: list[Any]) -> None:
        no_queries("book.author", lambda: [b.author.name for b in books])
        for b in books:
            author = b.author
            assert isinstance(author, Author) and author.pk == b.author_id, (b.pk, author)
            assert (author.name, author.publisher_id) == author_values[author.pk], author.pk

    def books_loaded(authors: list[Any]) -> None:
        no_queries("author.books.all()", lambda: [list(a.books.all()) for a in authors])
        seen = 0
        for a in authors:
            for b in a.books.all():
                assert isinstance(b, Book) and b.author_id == a.pk, (a.pk, b.pk)
                assert tuple(getattr(b, n) for n in attnames[1:]) == book_values[b.pk], b.pk
                assert b.published.tzinfo is not None, b.pk
                seen += 1
        assert seen == N_BOOKS, seen

    tags_expected: dict[int, set[int]] = {}
    for book_id, tag_id in Book.tags.through.objects.filter(book_id__lte=N_SAMPLE).values_list(
        "book_id", "tag_id"
    ):
        tags_expected.setdefault(book_id, set()).add(tag_id)

    def tags_loaded(books: list[Any]) -> None:
        no_queries("book.tags.all()", lambda: [list(b.tags.all()) for b in books])
        for b in books:
            assert {t.pk for t in b.tags.all()} == tags_expected.get(b.pk, set()), b.pk
            assert all(t.name == f"tag{t.pk}" for t in b.tags.all()), b.pk

    groups: list[Group] = []

    # batch ---------------------------------------------------------------------------
    def batch_group(key: str, title: str, setup: Callable[[], list[Any]], lookup: str, check: Any) -> Group:
        async def ours(instances: list[Any]) -> float:
            start = time.perf_counter()
            await aprefetch(instances, lookup)
            return time.perf_counter() - start

        async def theirs(instances: list[Any]) -> float:
            start = time.perf_counter()
            await aprefetch_related_objects(instances, lookup)
            return time.perf_counter() - start

        what = "authors" if setup is all_authors else "books"
        cases = [
            Case(
                f'await aprefetch({what}, "{lookup}")  [{d}]',
                setup,
                in_loop(ours),
                check,
                key=f"r:{d}",
                context=relations_setting(d),
            )
            for d in drivers
        ]
        cases += [
            Case(
                f'await aprefetch_related_objects({what}, "{lookup}")  [Django]',
                setup,
                in_loop(theirs),
                check,
                key="django_async",
            ),
            Case(
                f'prefetch({what}, "{lookup}")  [sync]',
                setup,
                timed(lambda s: prefetch(s, lookup)),
                check,
                key="r_sync",
            ),
            Case(
                f'prefetch_related_objects({what}, "{lookup}")  [Django, sync]',
                setup,
                timed(lambda s: prefetch_related_objects(s, lookup)),
                check,
                key="django_sync",
            ),
        ]
        return Group(key, title, "ms", 1, cases, reference="django_async")

    if "batch" in wanted:
        groups.append(
            batch_group(
                "batch_fk",
                f"batch, forward FK: the authors of {N_SAMPLE:,} books",
                batch_books,
                "author",
                authors_loaded,
            )
        )
        groups.append(
            batch_group(
                "batch_rev",
                f"batch, reverse FK: the books of {N_AUTHORS:,} authors ({N_BOOKS:,} rows)",
                all_authors,
                "books",
                books_loaded,
            )
        )
        groups.append(
            batch_group(
                "batch_m2m",
                f"batch, many-to-many: the tags of {N_SAMPLE:,} books",
                batch_books,
                "tags",
                tags_loaded,
            )
        )

    # per call -------------------------------------------------------------------------
    knob = coalesce_key()

    def r_load(uncoalesced: bool) -> Callable[[Any], Any]:
        """``b.R("author")``, or the same load without the coalescing layer: through the
        setting that turns it off, else the loader on the driver directly."""
        if uncoalesced and knob is None:
            return lambda b: run_async(b.R("author").loader())
        return lambda b: b.R("author")

    def uncoalesced_label(d: str) -> str:
        if knob is None:
            return f'await run_async(b.R("author").loader())  [{d}, no coalescing]'
        return f'await b.R("author")  [{d}, {knob}=False]'

    def r_each(uncoalesced: bool) -> Callable[[list[Any]], Coroutine[Any, Any, float]]:
        load = r_load(uncoalesced)

        async def run(books: list[Any]) -> float:
            start = time.perf_counter()
            for b in books:
                await load(b)
            return time.perf_counter() - start

        return run

    async def lazy_in_thread(books: list[Any]) -> float:
        with mode("lazy"):  # a context variable: sync_to_async carries it into the thread
            start = time.perf_counter()
            for b in books:
                await sync_to_async(lambda b=b: b.author)()
            return time.perf_counter() - start

    async def aget_each(books: list[Any]) -> float:
        start = time.perf_counter()
        for b in books:
            await Author.objects.aget(pk=b.author_id)
        return time.perf_counter() - start

    def sync_r_each(books: list[Any]) -> None:
        for b in books:
            b.R("author").sync()

    def sync_lazy_each(books: list[Any]) -> None:
        with mode("lazy"):
            for b in books:
                b.author  # noqa: B018 - the lazy load is what is measured

    def django_lazy_each(books: list[Any]) -> None:
        for b in books:
            b.author  # noqa: B018 - the lazy load is what is measured

    @contextmanager
    def django_descriptor() -> Iterator[None]:
        """``Book.author`` as plain Django installs it, for this case only."""
        strict = Book.__dict__["author"]
        Book.author = ForwardManyToOneDescriptor(Book._meta.get_field("author"))  # type: ignore[assignment]
        try:
            yield
        finally:
            Book.author = strict

    if "per-call" in wanted:
        cases = [
            Case(
                f'await b.R("author")  [{d}]',
                solo_books,
                in_loop(r_each(False)),
                authors_loaded,
                key=f"r:{d}",
                context=relations_setting(d),
            )
            for d in drivers
        ]
        if "native" in drivers:  # what the coalescing layer costs a lone call
            cases.append(
                Case(
                    uncoalesced_label("native"),
                    solo_books,
                    in_loop(r_each(True)),
                    authors_loaded,
                    key="r:native:uncoalesced",
                    context=relations_setting("native", coalesce=False if knob else None),
                )
            )
        cases += [
            Case(
                'await sync_to_async(lambda: b.author)()  [mode("lazy")]',
                solo_books,
                in_loop(lazy_in_thread),
                authors_loaded,
                key="s2a",
            ),
            Case(
                "await Author.objects.aget(pk=b.author_id)  [Django]",
                solo_books,
                in_loop(aget_each),
                key="aget",
            ),
            Case(
                'b.R("author").sync()  [sync]', solo_books, timed(sync_r_each), authors_loaded, key="r_sync"
            ),
            Case(
                'b.author  [sync, mode("lazy")]',
                solo_books,
                timed(sync_lazy_each),
                authors_loaded,
                key="lazy",
            ),
            Case(
                "b.author  [sync, Django's own descriptor]",
                solo_books,
                timed(django_lazy_each),
                authors_loaded,
                key="django_lazy",
                context=django_descriptor,
            ),
        ]
        groups.append(
            Group(
                "per_call",
                f"per call: one book's author, {N_SAMPLE:,} fresh books one at a time",
                "us",
                N_SAMPLE,
                cases,
                note="time per call; every call runs one query",
                reference="s2a",
            )
        )

    # lazy loader ----------------------------------------------------------------------
    author_attnames = [f.attname for f in Author._meta.concrete_fields]
    author_rows = list(Author.objects.order_by("pk")[:N_SOLO_AUTHORS].values_list(*author_attnames))

    def solo_authors() -> list[Any]:
        return [Author.from_db(db_alias, author_attnames, row) for row in author_rows]

    def django_books_each(authors: list[Any]) -> None:
        for a in authors:
            list(a.books.all())

    def sync_r_books_each(authors: list[Any]) -> None:
        for a in authors:
            a.R("books").sync()

    def own_books_loaded(authors: list[Any]) -> None:
        no_queries("author.books.all()", lambda: [list(a.books.all()) for a in authors])
        for a in authors:
            for b in a.books.all():
                assert b.author_id == a.pk, (a.pk, b.pk)
                assert tuple(getattr(b, n) for n in attnames[1:]) == book_values[b.pk], b.pk

    @contextmanager
    def django_books_descriptor() -> Iterator[None]:
        """``Author.books`` as plain Django installs it, for this case only."""
        strict = Author.__dict__["books"]
        Author.books = ReverseManyToOneDescriptor(Book._meta.get_field("author").remote_field)  # type: ignore[assignment]
        try:
            yield
        finally:
            Author.books = strict

    if "lazy-loader" in wanted:
        groups.append(
            Group(
                "lazy_one",
                f'lazy to-one reads: b.author on {N_SAMPLE:,} fresh books, LAZY_LOADER "relations" vs Django',
                "us",
                N_SAMPLE,
                [
                    Case(
                        'b.author  [mode("lazy"), LAZY_LOADER "relations": the loaders serve it]',
                        solo_books,
                        timed(django_lazy_each),
                        authors_loaded,
                        key="served",
                        context=lazy_loader_setting("relations"),
                    ),
                    Case(
                        'b.author  [mode("lazy"), LAZY_LOADER "django"]',
                        solo_books,
                        timed(django_lazy_each),
                        authors_loaded,
                        key="lazy_django",
                        context=lazy_loader_setting("django"),
                    ),
                    Case(
                        "b.author  [Django's own descriptor]",
                        solo_books,
                        timed(django_lazy_each),
                        authors_loaded,
                        key="django_lazy",
                        context=django_descriptor,
                    ),
                ],
                note="time per read; every read runs one query",
                reference="django_lazy",
            )
        )
        groups.append(
            Group(
                "lazy_many",
                f"to-many, one author at a time: the books of {N_SOLO_AUTHORS} fresh authors (~10 each)",
                "us",
                N_SOLO_AUTHORS,
                [
                    Case(
                        'a.R("books").sync()  [sync]',
                        solo_authors,
                        timed(sync_r_books_each),
                        own_books_loaded,
                        key="r_sync",
                    ),
                    Case(
                        "list(a.books.all())  [Django's own descriptor]",
                        solo_authors,
                        timed(django_books_each),
                        key="django",
                        context=django_books_descriptor,
                    ),
                ],
                note="time per author; every load runs one query",
                reference="django",
            )
        )

    # concurrency ----------------------------------------------------------------------
    def waves(books: list[Any], k: int) -> list[list[Any]]:
        return [books[i : i + k] for i in range(0, len(books), k)]

    def r_gather(k: int, uncoalesced: bool) -> Callable[[list[Any]], Coroutine[Any, Any, float]]:
        load = r_load(uncoalesced)

        async def run(books: list[Any]) -> float:
            batches = waves(books, k)
            start = time.perf_counter()
            for wave in batches:
                await asyncio.gather(*(load(b) for b in wave))
            return time.perf_counter() - start

        return run

    def s2a_gather(k: int) -> Callable[[list[Any]], Coroutine[Any, Any, float]]:
        async def run(books: list[Any]) -> float:
            batches = waves(books, k)
            with mode("lazy"):
                start = time.perf_counter()
                for wave in batches:
                    await asyncio.gather(*(sync_to_async(lambda b=b: b.author)() for b in wave))
                return time.perf_counter() - start

        return run

    if "concurrency" in wanted:
        for k in CONCURRENCY:
            cases = []
            for d in drivers:
                cases.append(
                    Case(
                        f'b.R("author")  [{d}]',
                        solo_books,
                        in_loop(r_gather(k, False)),
                        authors_loaded,
                        key=f"r:{d}",
                        context=relations_setting(d),
                    )
                )
                if d != "native":  # the thread driver without coalescing is the sync_to_async row
                    continue
                cases.append(
                    Case(
                        uncoalesced_label(d).removeprefix("await "),
                        solo_books,
                        in_loop(r_gather(k, True)),
                        authors_loaded,
                        key=f"r:{d}:uncoalesced",
                        context=relations_setting(d, coalesce=False if knob else None),
                    )
                )
            cases.append(
                Case(
                    'sync_to_async(lambda: b.author)  [mode("lazy")]',
                    solo_books,
                    in_loop(s2a_gather(k)),
                    authors_loaded,
                    key="s2a",
                )
            )
            groups.append(
                Group(
                    f"concurrency_{k}",
                    f"concurrency: {k} task{'s' if k > 1 else ''} at a time, each loading one book's author"
                    f" ({N_SAMPLE:,} distinct fresh books in {N_SAMPLE // k:,} asyncio.gather() waves)",
                    "loads/s",
                    N_SAMPLE,
                    cases,
                    reference="s2a",
                )
            )

    # driver core ----------------------------------------------------------------------
    task = object()
    empty: list[Any] = []

    def loader(n: int) -> Generator[Any, list[Any], int]:
        total = 0
        for _ in range(n):
            rows = yield task
            total += len(rows)
        return total

    def execute(_task: Any) -> list[Any]:
        return empty

    async def aexecute(_task: Any) -> list[Any]:
        return empty

    def plain_calls(n: int) -> None:
        total = 0
        for _ in range(n):
            total += len(execute(task))

    def driver_sync(n: int) -> None:
        core.run_sync(loader(n), execute)

    async def driver_async(n: int) -> float:
        start = time.perf_counter()
        await core.drive(loader(n), aexecute)
        return time.perf_counter() - start

    def n_tasks() -> int:
        return N_CORE_TASKS

    if "core" in wanted:
        groups.append(
            Group(
                "core",
                f"driver core: {N_CORE_TASKS:,} no-op tasks through a loader",
                "ns",
                N_CORE_TASKS,
                cases=[
                    Case(
                        "drivers.core.run_sync(loader, execute)", n_tasks, timed(driver_sync), key="run_sync"
                    ),
                    Case(
                        "await drivers.core.drive(loader, async execute)",
                        n_tasks,
                        in_loop(driver_async),
                        key="drive",
                    ),
                    Case(
                        "plain loop: execute(task) called directly", n_tasks, timed(plain_calls), key="plain"
                    ),
                ],
                note="time per task, no I/O: the cost of the generator protocol itself",
                reference="plain",
            )
        )
    return groups


# -- measuring ----------------------------------------------------------------------


class QueryCounter(logging.Handler):
    """Counts the records of the ``django.db.backends`` logger: one per query, from any thread."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if hasattr(record, "sql"):
            self.count += 1  # handle() holds the handler's lock


def count_queries(run: Callable[[Any], float], state: Any) -> int:
    """Run a case once and count its queries.

    Django's connection objects are per thread, and inside a running event loop
    per context (asyncio task), so no single CaptureQueriesContext sees this
    thread's (sync cases), asgiref's sync thread's (sync_to_async, the thread
    driver) and the loop tasks' (the native driver logs on the calling context's
    connection) at once; and entering one in the loop would connect it there,
    which Django forbids.  With DEBUG on, every one of them logs each query to the
    ``django.db.backends`` logger, which is process-wide.
    """
    from django.test.utils import override_settings

    logger = logging.getLogger("django.db.backends")
    counter = QueryCounter()
    saved = logger.level, logger.propagate
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(counter)
    try:
        with override_settings(DEBUG=True):
            run(state)
    finally:
        logger.removeHandler(counter)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
        reset_queries_everywhere()
    return counter.count


def reset_queries_everywhere() -> None:
    """Empty the query logs that DEBUG filled (this thread's and asgiref's thread's)."""
    from asgiref.sync import sync_to_async
    from django.db import reset_queries

    assert LOOP is not None
    reset_queries()
    LOOP.run_until_complete(sync_to_async(reset_queries)())


def run_case(case: Case, count: bool) -> None:
    with case.context():
        state = case.setup()
        gc.collect()
        if count:
            case.queries = count_queries(case.run, state)
            if case.check is not None:
                case.check(state)
        else:
            case.samples.append(case.run(state))


def measure(groups: list[Group], rounds: int) -> None:
    for group in groups:  # warm-up, query counts, checks
        for case in group.cases:
            run_case(case, count=True)
    for r in range(rounds):
        for group in groups:
            k = r % len(group.cases)
            for case in group.cases[k:] + group.cases[:k]:
                run_case(case, count=False)
        print(f"  round {r + 1}/{rounds} done", file=sys.stderr, flush=True)


SCALE = {"ms": 1e3, "us": 1e6, "ns": 1e9}
UNIT_LABEL = {"ms": "ms", "us": "µs/call", "ns": "ns/task", "loads/s": "loads/s"}


def values(group: Group, case: Case) -> list[float]:
    """The samples in the group's unit."""
    if group.unit == "loads/s":
        return [group.per / s for s in case.samples]
    return [s * SCALE[group.unit] / group.per for s in case.samples]


def median(group: Group, case: Case) -> float:
    return statistics.median(values(group, case))


def best(group: Group, case: Case) -> float:
    """The fastest round's value."""
    return max(values(group, case)) if group.unit == "loads/s" else min(values(group, case))


def fmt(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def ratio_text(group: Group, case: Case) -> tuple[str, str]:
    """The case's ratio to the group's reference: of the medians, and of the best rounds."""
    reference = group.case(group.reference)
    assert reference is not None
    if case is reference:
        return "ref", "ref"
    return (
        f"{median(group, case) / median(group, reference):.2f}x",
        f"{best(group, case) / best(group, reference):.2f}x",
    )


def report(groups: list[Group]) -> str:
    lines = []
    width = max(len(c.name) for g in groups for c in g.cases) + 2
    for group in groups:
        lines.append("")
        lines.append(group.title + (f"  ({group.note})" if group.note else ""))
        unit = UNIT_LABEL[group.unit]
        lines.append(
            f"  {unit:<{width}}{'median':>10} {'min - max':>17}  {'ratio':>6} {'(best)':>7} {'queries':>8}"
        )
        reference = group.case(group.reference)
        assert reference is not None
        ref_median = median(group, reference)
        for case in group.cases:
            vals = values(group, case)
            spread = f"{fmt(min(vals))} - {fmt(max(vals))}"
            queries = "-" if case.queries is None else f"{case.queries:,}"
            ratio, ratio_best = ratio_text(group, case)
            lines.append(
                f"  {case.name:<{width}}{fmt(median(group, case)):>10} {spread:>17}  {ratio:>6} "
                f"{ratio_best:>7} {queries:>8}"
            )
        if group.unit == "ns":  # the driver core: its own cost, over a plain call
            for case in group.cases:
                if case is not reference:
                    extra = median(group, case) - ref_median
                    lines.append(f"  -> {case.name}: {extra:+.0f} ns per task over a plain call")
    lines.append("")
    lines.append(
        "ratio: median / median of the group's row marked ref; for times below 1 is faster than ref,"
    )
    lines.append("for loads/s above 1 is more loads per second than ref.")
    lines.append("(best): the same ratio of the fastest rounds, less sensitive to other load on the machine.")
    lines.append("queries: counted during the warm-up round (django.db.backends log records, DEBUG on).")
    return "\n".join(lines)


@dataclass
class Target:
    text: str
    measured: str  # "0.42x (best 0.40x)"
    met: bool | None  # None: not measured in this run


def targets(groups: list[Group], drivers: list[str]) -> list[Target]:
    """Issue 3's targets, as ratios of rows of this run."""
    by_key = {g.key: g for g in groups}
    found: list[Target] = []

    def ratio(group_key: str, key: str, ref_key: str, invert: bool = False) -> tuple[float, float] | None:
        group = by_key.get(group_key)
        if group is None:
            return None
        case, ref = group.case(key), group.case(ref_key)
        if case is None or ref is None or not case.samples:
            return None
        a, b = (median(group, case), median(group, ref)), (best(group, case), best(group, ref))
        if invert:
            return a[1] / a[0], b[1] / b[0]
        return a[0] / a[1], b[0] / b[1]

    def add(text: str, value: tuple[float, float] | None, ok: Callable[[float], bool]) -> None:
        if value is None:
            found.append(Target(text, "not measured", None))
        else:
            found.append(Target(text, f"{value[0]:.2f}x (best rounds {value[1]:.2f}x)", ok(value[0])))

    for d in drivers:
        add(
            f'per call: await b.R("author") [{d}] <= 0.5x await sync_to_async(lambda: b.author)()',
            ratio("per_call", f"r:{d}", "s2a"),
            lambda v: v <= 0.5,
        )
        add(
            f'per call: await b.R("author") [{d}] <= 0.8x sync b.author (Django\'s own descriptor)',
            ratio("per_call", f"r:{d}", "django_lazy"),
            lambda v: v <= 0.8,
        )
        add(
            f'100 concurrent R("author") [{d}] >= 10x the loads/s of sync_to_async',
            ratio(f"concurrency_{CONCURRENCY[-1]}", f"r:{d}", "s2a"),
            lambda v: v >= 10,
        )
        if d == "native":
            add(
                f'100 concurrent R("author") [{d}, no coalescing] >= 10x sync_to_async (informative)',
                ratio(f"concurrency_{CONCURRENCY[-1]}", f"r:{d}:uncoalesced", "s2a"),
                lambda v: v >= 10,
            )
        add(
            f'aprefetch(1,000 books, "author") [{d}] >= 2x faster than aprefetch_related_objects',
            ratio("batch_fk", f"r:{d}", "django_async", invert=True),
            lambda v: v >= 2,
        )
        add(
            f'aprefetch(authors, "books") [{d}] vs aprefetch_related_objects, speed-up (informative)',
            ratio("batch_rev", f"r:{d}", "django_async", invert=True),
            lambda v: v >= 1,
        )
    add(
        'lazy b.author, LAZY_LOADER "relations" <= 0.8x Django\'s own descriptor (issue 17)',
        ratio("lazy_one", "served", "django_lazy"),
        lambda v: v <= 0.8,
    )
    add(
        'a.R("books").sync() <= 0.8x list(a.books.all()) (issue 17)',
        ratio("lazy_many", "r_sync", "django"),
        lambda v: v <= 0.8,
    )
    core_group = by_key.get("core")
    for key in ("drive", "run_sync"):
        case = core_group.case(key) if core_group else None
        plain = core_group.case("plain") if core_group else None
        text = f"driver core ({key}) overhead < 1 µs per task over a plain call"
        if core_group is None or case is None or plain is None:
            found.append(Target(text, "not measured", None))
            continue
        extra = median(core_group, case) - median(core_group, plain)
        extra_best = best(core_group, case) - best(core_group, plain)
        found.append(Target(text, f"{extra:+.0f} ns (best rounds {extra_best:+.0f} ns)", extra < 1000))
    return found


def targets_report(found: list[Target]) -> str:
    width = max(len(t.text) for t in found) + 2
    lines = [
        "",
        "targets (issue 3; medians of this run, ratio = row / reference, speed-ups as reference / row)",
    ]
    for t in found:
        verdict = {True: "MET", False: "MISSED", None: "-"}[t.met]
        lines.append(f"  {t.text:<{width}}{t.measured:<32}{verdict}")
    return "\n".join(lines)


def database_description() -> str:
    from django.db import connection

    connection.ensure_connection()
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode")
            journal = cursor.fetchone()[0]
        return f"SQLite {connection.Database.sqlite_version} (file in a temp dir, journal_mode={journal})"
    server = connection.pg_version  # e.g. 160004
    major, minor = server // 10000, server % 10000
    import psycopg

    return (
        f"PostgreSQL {major}.{minor} at {connection.settings_dict['HOST']}:{connection.settings_dict['PORT']}"
        f", database {PG_DB}, psycopg {psycopg.__version__} ({psycopg.pq.__impl__})"
    )


def library_version() -> str:
    """Where ``relations`` was imported from, and the checkout's commit when it is one."""
    import subprocess

    import relations

    where = Path(relations.__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(where), "log", "-1", "--format=%h %cI"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(where), "status", "--porcelain", "--", "relations", "descriptors"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return str(where)
    return f"{where} at commit {commit}" + (
        " + uncommitted changes in relations/descriptors" if dirty else ""
    )


def load() -> str:
    """The 1-minute load average: other processes on the machine skew timings."""
    return f"{os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else "n/a"


def command_line() -> str:
    python = sys.executable
    if Path(python).is_relative_to(Path.cwd()):
        python = os.path.relpath(python)
    return shlex.join([python, *sys.argv])


def distinct_authors() -> int:
    from benchapp.models import Book

    return Book.objects.filter(pk__lte=N_SAMPLE).values("author_id").distinct().count()


def close_async() -> None:
    """Close what the event loop holds: native connections, asgiref's thread's Django connections."""
    from asgiref.sync import sync_to_async
    from django.db import connections

    from relations import drivers

    assert LOOP is not None
    if "native" in drivers.ASYNC_DRIVERS:
        from relations.drivers import native  # type: ignore[attr-defined]

        LOOP.run_until_complete(native.aclose())
    LOOP.run_until_complete(sync_to_async(connections.close_all)())
    LOOP.run_until_complete(LOOP.shutdown_asyncgens())


def combine(paths: list[str]) -> str:
    """Markdown tables of several ``--json`` runs side by side (one column per run)."""
    runs = [json.loads(Path(p).read_text()) for p in paths]
    labels = [r["label"] for r in runs]
    lines = ["### Targets", "", "| target | " + " | ".join(labels) + " |", "|---" * (len(runs) + 1) + "|"]
    verdicts = {True: "**met**", False: "**missed**", None: ""}
    texts = list(dict.fromkeys(t["text"] for r in runs for t in r["targets"]))
    for text in texts:
        cells = []
        for r in runs:
            t = next((t for t in r["targets"] if t["text"] == text), None)
            cells.append("-" if t is None else f"{t['measured']} {verdicts[t['met']]}".strip())
        lines.append(f"| {text} | " + " | ".join(cells) + " |")
    titles = list(dict.fromkeys((g["key"], g["title"], g["unit"]) for r in runs for g in r["groups"]))
    for key, title, unit in titles:
        lines += ["", f"### {title}", ""]
        lines.append(
            f"{UNIT_LABEL[unit]}, median (min-max) and ratio to the row marked ref "
            + ("(above 1: more loads/s)" if unit == "loads/s" else "(below 1: faster)")
            + "; queries in brackets"
        )
        lines += ["", "| case | " + " | ".join(labels) + " |", "|---" * (len(runs) + 1) + "|"]
        names = list(
            dict.fromkeys(c["name"] for r in runs for g in r["groups"] if g["key"] == key for c in g["cases"])
        )
        for name in names:
            cells = []
            for r in runs:
                group = next((g for g in r["groups"] if g["key"] == key), None)
                case = next((c for c in group["cases"] if c["name"] == name), None) if group else None
                if case is None:
                    cells.append("-")
                    continue
                vals = case["values"]
                spread = f"{fmt(min(vals))}-{fmt(max(vals))}"
                cells.append(f"{fmt(case['median'])} ({spread}) **{case['ratio'][0]}** [{case['queries']}]")
            lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    global LOOP
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--rounds", type=int, default=7, help="measured rounds after the warm-up (default 7)")
    parser.add_argument(
        "--drivers",
        default="",
        help='comma-separated async drivers for the R()/aprefetch rows (default: all of "native,thread" '
        "that the library has)",
    )
    parser.add_argument(
        "--groups",
        default=",".join(GROUPS),
        help=f"comma-separated groups to run (default: {','.join(GROUPS)})",
    )
    parser.add_argument("--json", metavar="FILE", help="also write every sample and the targets to FILE")
    parser.add_argument(
        "--combine",
        nargs="+",
        metavar="FILE",
        help="measure nothing: print markdown tables of these --json files side by side",
    )
    args = parser.parse_args()
    if args.combine:
        print(combine(args.combine))
        return
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    wanted = set(filter(None, args.groups.split(",")))
    if not wanted <= set(GROUPS):
        parser.error(f"--groups: unknown {', '.join(sorted(wanted - set(GROUPS)))}")

    tmpdir = tempfile.mkdtemp(prefix="relations-bench-")
    if args.db == "postgres":
        pg_admin(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
        pg_admin(f"CREATE DATABASE {PG_DB}")
    LOOP = asyncio.new_event_loop()
    asyncio.set_event_loop(LOOP)
    try:
        configure(args.db, tmpdir)
        import asgiref

        have = available_drivers()
        drivers = [d for d in args.drivers.split(",") if d] or have
        missing = [d for d in drivers if d not in have]
        if missing:
            parser.error(
                f"--drivers: the library has no {', '.join(missing)} driver (it has {', '.join(have)})"
            )

        create_and_seed()
        started = time.perf_counter()
        knob = coalesce_key()
        header = [
            f"$ {command_line()}",
            f"date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M UTC}",
            f"Python {platform.python_version()}, Django {django.get_version()}, "
            f"asgiref {asgiref.__version__}",
            f"database: {database_description()}",
            f"library: {library_version()}",
            f"async drivers measured: {', '.join(drivers)}; uncoalesced rows: "
            + (
                f'RELATIONS["{knob}"] = False'
                if knob
                else "no setting turns coalescing off, so they run the R() loader on the driver directly"
            ),
            f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.system()} "
            f"{platform.release()}, load average at start {load()}",
            f"data: {N_PUBLISHERS} publishers, {N_AUTHORS:,} authors, {N_BOOKS:,} books, {N_TAGS} tags; "
            f"the {N_SAMPLE:,} sampled books have {distinct_authors()} distinct authors; "
            f"1 warm-up round + {args.rounds} measured rounds",
        ]
        print("\n".join(header), flush=True)
        groups = build_groups(drivers, wanted)
        measure(groups, args.rounds)
        print(report(groups), flush=True)
        found = targets(groups, drivers)
        print(targets_report(found), flush=True)
        print(f"\n(total measuring time {time.perf_counter() - started:.0f} s; load average at end {load()})")
        if args.json:
            from django.db import connection

            vendor = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}.get(
                connection.vendor, connection.vendor
            )
            data = {
                "label": f"{vendor} / Django {django.get_version()}",
                "header": header,
                "groups": [
                    {
                        "key": g.key,
                        "title": g.title,
                        "unit": g.unit,
                        "reference": g.reference,
                        "cases": [
                            {
                                "key": c.key,
                                "name": c.name,
                                "queries": c.queries,
                                "values": values(g, c),
                                "median": median(g, c),
                                "ratio": ratio_text(g, c),
                            }
                            for c in g.cases
                        ],
                    }
                    for g in groups
                ],
                "targets": [t.__dict__ for t in found],
            }
            Path(args.json).write_text(json.dumps(data, indent=1))
    finally:
        if settings.configured:
            from django.db import connections

            close_async()
            connections.close_all()
        LOOP.close()
        shutil.rmtree(tmpdir, ignore_errors=True)
        if args.db == "postgres":
            pg_admin(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")


if __name__ == "__main__":
    main()
