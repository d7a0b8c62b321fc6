#!/usr/bin/env python
"""Benchmarks of django-strict-relations against Django's own loading, in one process.

    .venv/dj61/bin/python benchmarks/run.py                 # SQLite file in a temp dir
    .venv/dj61/bin/python benchmarks/run.py --db postgres   # scratch database relations_bench
    .venv/dj61/bin/python benchmarks/run.py --rounds 15     # more rounds (default 7)

Seeds 200 authors and 1,000 books, then runs every case once as a warm-up (which
also counts each case's queries with Django's CaptureQueriesContext and checks that
the relations really are loaded afterwards) and then ``--rounds`` measured rounds.
Each case starts from freshly fetched instances (fetched outside the timed part),
so every round measures the same work.  ``gc.collect()`` runs before each case and
the order of the cases of a group rotates from round to round.  Async cases are
timed inside the event loop (``async_to_sync`` from the main thread, so their ORM
work runs on the main thread's connection, as in a Django view under ASGI).

PostgreSQL: 127.0.0.1:5432, user postgres (PGHOST, PGPORT, PGUSER override); the
scratch database ``relations_bench`` is created and dropped by the run.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import os
import platform
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Generator
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

N_AUTHORS = 200
N_BOOKS = 1_000
N_CORE_TASKS = 100_000
PG_DB = "relations_bench"


# -- set-up -------------------------------------------------------------------------


def pg_params() -> dict[str, str]:
    return {
        "host": os.environ.get("PGHOST", "127.0.0.1"),
        "port": os.environ.get("PGPORT", "5432"),
        "user": os.environ.get("PGUSER", "postgres"),
    }


def pg_admin(sql: str) -> None:
    """Run a statement on the maintenance database ``postgres`` (autocommit)."""
    import psycopg

    with psycopg.connect(dbname="postgres", autocommit=True, **pg_params()) as conn:
        conn.execute(sql)


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
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        INSTALLED_APPS=["relations", "benchapp"],
        DATABASES={"default": database},
        RELATIONS={"MODE": "raise"},
    )
    django.setup()


def create_and_seed() -> None:
    from benchapp.models import Author, Book
    from django.db import connection, transaction

    with connection.schema_editor() as editor:
        editor.create_model(Author)
        editor.create_model(Book)
    with transaction.atomic():
        authors = Author.objects.bulk_create(
            Author(pk=i, name=f"Author {i}") for i in range(1, N_AUTHORS + 1)
        )
        # Deterministic, 5 books per author, spread out: book i -> author (i % 200) + 1.
        Book.objects.bulk_create(
            Book(pk=i, title=f"Book {i}", author=authors[i % N_AUTHORS]) for i in range(1, N_BOOKS + 1)
        )


# -- the cases ----------------------------------------------------------------------


@dataclass
class Case:
    name: str
    setup: Callable[[], Any]  # untimed; returns the state the case works on
    run: Callable[[Any], float]  # returns the seconds of the timed part
    check: Callable[[Any], None] | None = None  # after the warm-up: is the work really done?
    queries: int | None = None  # counted in the warm-up
    samples: list[float] = field(default_factory=list)


@dataclass
class Group:
    title: str
    unit: str  # "ms", "us", "ns"
    per: int  # the timed part is divided by this (calls, tasks)
    cases: list[Case]
    note: str = ""
    reference: int = 0  # the row the ratios compare to


def in_loop(coroutine_function: Callable[[Any], Coroutine[Any, Any, float]]) -> Callable[[Any], float]:
    """Run an async timed case from the main thread, as Django's test client and ASGI do."""
    from asgiref.sync import async_to_sync

    return lambda state: async_to_sync(coroutine_function)(state)


def timed(function: Callable[[Any], Any]) -> Callable[[Any], float]:
    def run(state: Any) -> float:
        start = time.perf_counter()
        function(state)
        return time.perf_counter() - start

    return run


def build_groups() -> list[Group]:
    from asgiref.sync import sync_to_async
    from benchapp.models import Author, Book
    from django.db import connection
    from django.db.models import aprefetch_related_objects, prefetch_related_objects
    from django.test.utils import CaptureQueriesContext

    from relations import aprefetch, mode, prefetch
    from relations.drivers import core

    def fresh_books() -> list[Any]:
        return list(Book.objects.order_by("pk"))

    def fresh_authors() -> list[Any]:
        return list(Author.objects.order_by("pk"))

    def no_queries(label: str, read: Callable[[], Any]) -> None:
        with CaptureQueriesContext(connection) as q:
            read()
        if len(q):
            raise AssertionError(f"{label}: reading after the load ran {len(q)} queries")

    def authors_loaded(books: list[Any]) -> None:
        no_queries("book.author", lambda: [b.author.name for b in books])
        assert all(b.author.pk == b.author_id for b in books)

    def books_loaded(authors: list[Any]) -> None:
        no_queries("author.books.all()", lambda: [list(a.books.all()) for a in authors])
        total = sum(len(a.books.all()) for a in authors)
        assert total == N_BOOKS, total

    # batch: forward FK ------------------------------------------------------------
    async def a_ours(books: list[Any]) -> float:
        start = time.perf_counter()
        await aprefetch(books, "author")
        return time.perf_counter() - start

    async def a_django(books: list[Any]) -> float:
        start = time.perf_counter()
        await aprefetch_related_objects(books, "author")
        return time.perf_counter() - start

    batch_fk = Group(
        f"batch, forward FK: the authors of {N_BOOKS:,} books",
        "ms",
        1,
        reference=1,
        cases=[
            Case('await aprefetch(books, "author")', fresh_books, in_loop(a_ours), authors_loaded),
            Case(
                'await aprefetch_related_objects(books, "author")  [Django]',
                fresh_books,
                in_loop(a_django),
                authors_loaded,
            ),
            Case(
                'prefetch(books, "author")  [sync]',
                fresh_books,
                timed(lambda s: prefetch(s, "author")),
                authors_loaded,
            ),
            Case(
                'prefetch_related_objects(books, "author")  [Django, sync]',
                fresh_books,
                timed(lambda s: prefetch_related_objects(s, "author")),
                authors_loaded,
            ),
        ],
    )

    # batch: reverse FK ------------------------------------------------------------
    async def a_ours_rev(authors: list[Any]) -> float:
        start = time.perf_counter()
        await aprefetch(authors, "books")
        return time.perf_counter() - start

    async def a_django_rev(authors: list[Any]) -> float:
        start = time.perf_counter()
        await aprefetch_related_objects(authors, "books")
        return time.perf_counter() - start

    batch_rev = Group(
        f"batch, reverse FK: the books of {N_AUTHORS} authors ({N_BOOKS:,} rows)",
        "ms",
        1,
        reference=1,
        cases=[
            Case('await aprefetch(authors, "books")', fresh_authors, in_loop(a_ours_rev), books_loaded),
            Case(
                'await aprefetch_related_objects(authors, "books")  [Django]',
                fresh_authors,
                in_loop(a_django_rev),
                books_loaded,
            ),
            Case(
                'prefetch(authors, "books")  [sync]',
                fresh_authors,
                timed(lambda s: prefetch(s, "books")),
                books_loaded,
            ),
            Case(
                'prefetch_related_objects(authors, "books")  [Django, sync]',
                fresh_authors,
                timed(lambda s: prefetch_related_objects(s, "books")),
                books_loaded,
            ),
        ],
    )

    # per call -------------------------------------------------------------------------
    async def r_each(books: list[Any]) -> float:
        start = time.perf_counter()
        for b in books:
            await b.R("author")
        return time.perf_counter() - start

    async def lazy_in_thread(books: list[Any]) -> float:
        with mode("lazy"):
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

    per_call = Group(
        f"per call: one book's author, {N_BOOKS:,} fresh books one at a time",
        "us",
        N_BOOKS,
        cases=[
            Case('await b.R("author")', fresh_books, in_loop(r_each), authors_loaded),
            Case(
                'await sync_to_async(lambda: b.author)()  [mode("lazy")]',
                fresh_books,
                in_loop(lazy_in_thread),
                authors_loaded,
            ),
            Case("await Author.objects.aget(pk=b.author_id)  [Django]", fresh_books, in_loop(aget_each)),
            Case('b.R("author").sync()  [sync]', fresh_books, timed(sync_r_each), authors_loaded),
            Case(
                'b.author  [sync, mode("lazy"): Django lazy load]',
                fresh_books,
                timed(sync_lazy_each),
                authors_loaded,
            ),
        ],
        note="time per call; every call runs one query",
        reference=2,
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

    core_group = Group(
        f"driver core: {N_CORE_TASKS:,} no-op tasks through a loader",
        "ns",
        N_CORE_TASKS,
        cases=[
            Case("drivers.core.run_sync(loader, execute)", n_tasks, timed(driver_sync)),
            Case("await drivers.core.drive(loader, async execute)", n_tasks, in_loop(driver_async)),
            Case("plain loop: execute(task) called directly", n_tasks, timed(plain_calls)),
        ],
        note="time per task, no I/O: the cost of the generator protocol itself",
        reference=2,
    )
    return [batch_fk, batch_rev, per_call, core_group]


# -- measuring ----------------------------------------------------------------------


def run_case(case: Case, count_queries: bool) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    state = case.setup()
    gc.collect()
    if count_queries:
        with CaptureQueriesContext(connection) as q:
            case.run(state)
        case.queries = len(q)
        if case.check is not None:
            case.check(state)
    else:
        case.samples.append(case.run(state))


def measure(groups: list[Group], rounds: int) -> None:
    for group in groups:  # warm-up, query counts, checks
        for case in group.cases:
            run_case(case, count_queries=True)
    for r in range(rounds):
        for group in groups:
            k = r % len(group.cases)
            for case in group.cases[k:] + group.cases[:k]:
                run_case(case, count_queries=False)
        print(f"  round {r + 1}/{rounds} done", file=sys.stderr, flush=True)


SCALE = {"ms": 1e3, "us": 1e6, "ns": 1e9}
UNIT_LABEL = {"ms": "ms", "us": "µs/call", "ns": "ns/task"}


def fmt(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def report(groups: list[Group]) -> str:
    lines = []
    width = max(len(c.name) for g in groups for c in g.cases) + 2
    for group in groups:
        lines.append("")
        title = group.title + (f"  ({group.note})" if group.note else "")
        lines.append(title)
        unit = UNIT_LABEL[group.unit]
        header = (
            f"  {unit:<{width}}{'median':>10} {'min - max':>17}  {'ratio':>6} {'(mins)':>7} {'queries':>8}"
        )
        lines.append(header)

        factor = SCALE[group.unit] / group.per

        def scaled(case: Case, factor: float = factor) -> list[float]:
            return [s * factor for s in case.samples]

        reference = statistics.median(scaled(group.cases[group.reference]))
        reference_min = min(scaled(group.cases[group.reference]))
        for index, case in enumerate(group.cases):
            values = scaled(case)
            median = statistics.median(values)
            spread = f"{fmt(min(values))} - {fmt(max(values))}"
            queries = "-" if case.queries is None else f"{case.queries:,}"
            if index == group.reference:
                ratio, ratio_min = "ref", "ref"
            else:
                ratio, ratio_min = f"{median / reference:.2f}x", f"{min(values) / reference_min:.2f}x"
            name = case.name
            lines.append(
                f"  {name:<{width}}{fmt(median):>10} {spread:>17}  {ratio:>6} {ratio_min:>7} {queries:>8}"
            )
        if group.unit == "ns":  # the driver core: its own cost, over a plain call
            for index, case in enumerate(group.cases):
                if index != group.reference:
                    extra = statistics.median(scaled(case)) - reference
                    lines.append(f"  -> {case.name}: {extra:+.0f} ns per task over a plain call")
    lines.append("")
    lines.append("ratio: median / median of the group's row marked ref (above 1 is slower than ref);")
    lines.append("(mins): the same ratio of the fastest rounds, less sensitive to other load on the machine.")
    lines.append("queries: counted with CaptureQueriesContext during the warm-up round.")
    return "\n".join(lines)


def database_description() -> str:
    from django.db import connection

    connection.ensure_connection()
    if connection.vendor == "sqlite":
        return f"SQLite {connection.Database.sqlite_version} (file in a temp dir)"
    server = connection.pg_version  # e.g. 160004
    major, minor = server // 10000, server % 10000
    import psycopg

    return (
        f"PostgreSQL {major}.{minor} at {connection.settings_dict['HOST']}:{connection.settings_dict['PORT']}"
        f", database {PG_DB}, psycopg {psycopg.__version__}"
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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--rounds", type=int, default=7, help="measured rounds after the warm-up (default 7)")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")

    tmpdir = tempfile.mkdtemp(prefix="relations-bench-")
    if args.db == "postgres":
        pg_admin(f"DROP DATABASE IF EXISTS {PG_DB}")
        pg_admin(f"CREATE DATABASE {PG_DB}")
    try:
        configure(args.db, tmpdir)
        import asgiref

        create_and_seed()
        started = time.perf_counter()
        header = [
            f"$ {command_line()}",
            f"date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M UTC}",
            f"Python {platform.python_version()}, Django {django.get_version()}, "
            f"asgiref {asgiref.__version__}",
            f"database: {database_description()}",
            f"library: {library_version()}",
            f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.system()} "
            f"{platform.release()}, load average at start {load()}",
            f"data: {N_AUTHORS} authors, {N_BOOKS:,} books; 1 warm-up round + {args.rounds} measured rounds",
        ]
        print("\n".join(header), flush=True)
        groups = build_groups()
        measure(groups, args.rounds)
        print(report(groups), flush=True)
        print(f"\n(total measuring time {time.perf_counter() - started:.0f} s; load average at end {load()})")
    finally:
        if settings.configured:
            from django.db import connections

            connections.close_all()
        shutil.rmtree(tmpdir, ignore_errors=True)
        if args.db == "postgres":
            pg_admin(f"DROP DATABASE IF EXISTS {PG_DB}")


if __name__ == "__main__":
    main()
