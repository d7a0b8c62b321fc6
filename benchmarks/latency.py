#!/usr/bin/env python
"""ASGI pages at database distance: the library's page vs Django's async page, in one process.

    .venv/dj61/bin/python benchmarks/latency.py                     # 0, 0.5 and 1 ms, 1 and 16 pages
    .venv/dj61/bin/python benchmarks/latency.py --rounds 9 --time-limit 600
    .venv/dj61/bin/python benchmarks/latency.py --rtt 1 --concurrency 16

What users deploy: PostgreSQL a network hop away and each request run the way
Django's ``ASGIHandler`` runs an async view.  PostgreSQL (127.0.0.1:5432; PGHOST,
PGPORT, PGUSER override) is reached through ``delayproxy.py``, a loopback TCP
proxy in a child process that this run starts and stops and that adds 0, 0.5 and
1 ms (``--rtt``) to every round trip (half of it to each chunk in each direction).
The measured round trip of ``SELECT 1`` through the proxy, minus the direct one,
is printed for each level: the proxy's own hop and timer latency come on top.

A request, as ``ASGIHandler.__call__``/``handle`` does it: ``async with
ThreadSensitiveContext()`` (each request gets its own sync thread, so its own Django
connection), ``await request_started.asend(...)``, the view in a task of its own,
then ``request_finished`` sent through ``sync_to_async`` as ``response.close()``
sends it (so a connection with ``CONN_MAX_AGE = 0`` closes, and a pooled one goes
back to the pool).  The page, a view with no template:

- strict: ``books = [b async for b in qs]`` (20 books), then
  ``await aprefetch(books, "author__publisher", "tags")``;
- django: the same ``async for``, then
  ``await aprefetch_related_objects(books, "author__publisher", "tags")``.

Both run against two Django set-ups of the same database through the proxy:
``default`` connections (``CONN_MAX_AGE = 0``: a connection per request) and Django's
psycopg pool (``OPTIONS = {"pool": {...}}``, at most ``--pool-size``), at 1 page
alone and at 16 concurrent pages (``--concurrency``).  The library runs with its
default ``RELATIONS`` (``ASYNC_DRIVER`` "auto").

Method, as ``run.py``: the data of ``run.py`` (10,000 books, 1,000 authors, 20
publishers, 50 tags); one warm-up round that counts each case's queries (the
``django.db.backends`` log with DEBUG on) and checks every page against Django's sync
ORM (the 20 books, their authors, publishers and tags, read with no further query);
then ``--rounds`` rounds, the case order rotated each round, ``gc.collect()`` before
each case, stopping early once ``--time-limit`` seconds have passed.  A case is
``--pages`` pages one after another (1 alone) or ``--waves`` waves of 16 pages run
with ``asyncio.gather``; every page reads a different window of books.  Reported:
the median and min-max of the time of one page (1 alone) or of one wave (16
concurrent), over every page or wave of every round, and CPU per page (the
process's ``time.process_time()``, every thread, over the case's pages); ratios are
strict / django of the medians.  The closing table checks the targets of issue 16.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import gc
import logging
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import django
from django.conf import settings

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # the benchapp models and the other benchmarks' helpers
try:
    import relations  # noqa: F401  (pip-installed)
except ImportError:
    sys.path.insert(1, str(HERE.parent))  # this checkout

import run as house  # noqa: E402  (benchmarks/run.py: seeding, query counting, report helpers)
from delayproxy import DelayProxy  # noqa: E402
from pgscratch import pg_admin, pg_params  # noqa: E402

PG_DB = os.environ.get("RELATIONS_BENCH_PG_NAME", "relations_latency_bench")
PAGE = 20  # books per page
LOOKUPS = ("author__publisher", "tags")
SETUPS = {"default": "Django's default connections (CONN_MAX_AGE=0)", "pool": "Django's psycopg pool"}
SIDES = ("strict", "django")
SCOPE = {"type": "http", "method": "GET", "path": "/books/", "headers": []}


def configure(proxy_port: int, pool_size: int) -> None:
    params = pg_params()
    direct = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": PG_DB,
        "USER": params["user"],
        "HOST": params["host"],
        "PORT": params["port"],
    }
    proxied = {**direct, "HOST": "127.0.0.1", "PORT": str(proxy_port)}
    settings.configure(
        DEBUG=False,
        SECRET_KEY="benchmarks",
        USE_TZ=True,
        TIME_ZONE="UTC",
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        INSTALLED_APPS=["relations", "benchapp"],
        DATABASES={
            "default": direct,  # seeding and the checks' reference reads, not through the proxy
            "proxied": {**proxied, "CONN_MAX_AGE": 0},
            "pooled": {**proxied, "OPTIONS": {"pool": {"min_size": 1, "max_size": pool_size, "timeout": 30}}},
        },
        RELATIONS={"MODE": "raise"},
    )
    django.setup()


ALIAS = {"default": "proxied", "pool": "pooled"}


# -- the pages ----------------------------------------------------------------------


async def strict_page(alias: str, offset: int) -> list[Any]:
    from benchapp.models import Book

    from relations import aprefetch

    books = [b async for b in Book.objects.using(alias).order_by("pk")[offset : offset + PAGE]]
    await aprefetch(books, *LOOKUPS)
    return books


async def django_page(alias: str, offset: int) -> list[Any]:
    from benchapp.models import Book
    from django.db.models import aprefetch_related_objects

    books = [b async for b in Book.objects.using(alias).order_by("pk")[offset : offset + PAGE]]
    await aprefetch_related_objects(books, *LOOKUPS)
    return books


PAGES: dict[str, Callable[[str, int], Coroutine[Any, Any, list[Any]]]] = {
    "strict": strict_page,
    "django": django_page,
}


async def request(side: str, alias: str, offset: int) -> list[Any]:
    """One page as ``ASGIHandler`` serves an async view."""
    from asgiref.sync import ThreadSensitiveContext, sync_to_async
    from django.core import signals
    from django.core.handlers.asgi import ASGIHandler

    async with ThreadSensitiveContext():
        await signals.request_started.asend(sender=ASGIHandler, scope=SCOPE)
        try:
            return await asyncio.create_task(PAGES[side](alias, offset))
        finally:  # response.close(), through sync_to_async: in this request's thread
            await sync_to_async(signals.request_finished.send)(sender=ASGIHandler)


# -- cases --------------------------------------------------------------------------


@dataclass
class Case:
    rtt: float
    setup: str
    concurrency: int
    side: str
    samples: list[float] = field(default_factory=list)  # seconds per page (1) or per wave (16)
    cpu: list[float] = field(default_factory=list)  # process seconds per page, one per round
    queries: int | None = None

    @property
    def name(self) -> str:
        return f"{self.side} {self.setup} x{self.concurrency} @{self.rtt:g}ms"


class Offsets:
    """A different window of books for every page."""

    def __init__(self) -> None:
        self.next = 0

    def take(self) -> int:
        offset = self.next
        self.next = (self.next + PAGE) % (house.N_BOOKS - PAGE)
        return offset


async def run_case(
    case: Case, pages: int, waves: int, offsets: Offsets
) -> tuple[list[float], float, list[Any]]:
    """The case's pages: (seconds per page or wave, process seconds per page, the pages)."""
    alias = ALIAS[case.setup]
    times, results = [], []
    rounds, width = (pages, 1) if case.concurrency == 1 else (waves, case.concurrency)
    cpu = time.process_time()
    for _ in range(rounds):
        batch = [offsets.take() for _ in range(width)]
        start = time.perf_counter()
        results += await asyncio.gather(*(request(case.side, alias, o) for o in batch))
        times.append(time.perf_counter() - start)
    return times, (time.process_time() - cpu) / (rounds * width), results


class Checker:
    """Every page against Django's sync ORM, read without a query."""

    def __init__(self) -> None:
        from benchapp.models import Author, Book, Publisher

        self.authors = {
            pk: (name, pub) for pk, name, pub in Author.objects.values_list("pk", "name", "publisher_id")
        }
        self.publishers = dict(Publisher.objects.values_list("pk", "name"))
        self.book_authors = dict(Book.objects.values_list("pk", "author_id"))
        self.tags: dict[int, set[int]] = {}
        for book_id, tag_id in Book.tags.through.objects.values_list("book_id", "tag_id"):
            self.tags.setdefault(book_id, set()).add(tag_id)

    def __call__(self, case: Case, pages: list[list[Any]]) -> None:
        from django.db import connections
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connections[ALIAS[case.setup]]) as queries:
            for books in pages:
                pks = [b.pk for b in books]
                assert len(pks) == PAGE and pks == list(range(pks[0], pks[0] + PAGE)), (case.name, pks)
                for b in books:
                    author = b.author
                    assert author.pk == self.book_authors[b.pk], (case.name, b.pk)
                    assert (author.name, author.publisher_id) == self.authors[author.pk], (
                        case.name,
                        author.pk,
                    )
                    assert author.publisher.name == self.publishers[author.publisher_id], (
                        case.name,
                        author.pk,
                    )
                    assert {t.pk for t in b.tags.all()} == self.tags.get(b.pk, set()), (case.name, b.pk)
        if len(queries):
            raise AssertionError(f"{case.name}: reading the loaded page ran {len(queries)} queries")


def count_queries(run: Callable[[], Any]) -> tuple[Any, int]:
    """Run once with DEBUG on and count the ``django.db.backends`` records of every thread."""
    from django.test.utils import override_settings

    logger = logging.getLogger("django.db.backends")
    counter = house.QueryCounter()
    saved = logger.level, logger.propagate
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(counter)
    try:
        with override_settings(DEBUG=True):
            result = run()
    finally:
        logger.removeHandler(counter)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
    return result, counter.count


def measured_rtt(port: int) -> float:
    """Median ms of ``SELECT 1`` on one psycopg connection to ``port``."""
    import psycopg

    params = pg_params()
    with psycopg.connect(host="127.0.0.1", port=port, user=params["user"], dbname=PG_DB) as conn:
        samples = []
        for _ in range(30):
            start = time.perf_counter()
            conn.execute("SELECT 1").fetchone()
            samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e3


# -- report -------------------------------------------------------------------------


def median(values: list[float]) -> float:
    return statistics.median(values)


def table(cases: list[Case], rtts: list[float], concurrency: list[int], added: dict[float, float]) -> str:
    lines = []
    header = (
        f"  {'set-up':<9}{'pages':>6}  {'strict ms':>9} {'(min-max)':>13}  {'django ms':>9} {'(min-max)':>13}"
        f"  {'ratio':>6}  {'CPU/page strict':>15} {'django':>7} {'ratio':>6}  {'queries':>9}"
    )
    for rtt in rtts:
        lines += [
            "",
            f"+{rtt:g} ms per round trip (SELECT 1 through the proxy: +{added[rtt]:.2f} ms over direct)",
        ]
        lines.append(header)
        for setup in SETUPS:
            for k in concurrency:
                s, d = (find(cases, rtt, setup, k, side) for side in SIDES)
                ms = [house.fmt(median(c.samples) * 1e3) for c in (s, d)]
                spread = [
                    f"({house.fmt(min(c.samples) * 1e3)}-{house.fmt(max(c.samples) * 1e3)})" for c in (s, d)
                ]
                cpu = [median(c.cpu) * 1e3 for c in (s, d)]
                lines.append(
                    f"  {setup:<9}{k:>6}  {ms[0]:>9} {spread[0]:>13}  {ms[1]:>9} {spread[1]:>13}"
                    f"  {ratio(s, d):>5.2f}x  {cpu[0]:>12.2f} ms {cpu[1]:>7.2f} {cpu[0] / cpu[1]:>5.2f}x"
                    f"  {s.queries:>4}/{d.queries:<4}"
                )
    lines += [
        "",
        "ms: one page alone (pages=1) or one wave of concurrent pages (pages=16), median (min-max) over",
        "every page or wave of every round; ratio: strict / django (below 1: the library is faster).",
        "CPU/page: process CPU time (all threads) over the case's pages, median over rounds.",
        "queries: strict/django, all the pages of the case in the warm-up round (4 per page for both).",
    ]
    return "\n".join(lines)


def find(cases: list[Case], rtt: float, setup: str, k: int, side: str) -> Case:
    return next(c for c in cases if (c.rtt, c.setup, c.concurrency, c.side) == (rtt, setup, k, side))


def ratio(strict: Case, plain: Case) -> float:
    return median(strict.samples) / median(plain.samples)


def targets(cases: list[Case]) -> str:
    rows: list[tuple[str, float | None, float]] = []
    have = {(c.rtt, c.setup, c.concurrency) for c in cases}
    for setup in SETUPS:
        for k, limit, what in ((16, 0.5, "16 concurrent pages"), (1, 0.7, "one page alone")):
            key = (1.0, setup, k)
            value = ratio(find(cases, *key, "strict"), find(cases, *key, "django")) if key in have else None
            rows.append((f"{what} at 1 ms RTT, {setup} connections: time <= {limit}x Django's", value, limit))
    for setup in SETUPS:
        key = (1.0, setup, 16)
        value = None
        if key in have:
            s, d = find(cases, *key, "strict"), find(cases, *key, "django")
            value = median(s.cpu) / median(d.cpu)
        rows.append((f"CPU per page (16 concurrent, 1 ms RTT, {setup}) <= 0.5x Django's", value, 0.5))
    width = max(len(r[0]) for r in rows) + 2
    lines = ["", "targets (issue 16; ratios of medians of this run, strict / django)"]
    for text, value, limit in rows:
        if value is None:
            lines.append(f"  {text:<{width}}{'not measured':<10}-")
        else:
            lines.append(f"  {text:<{width}}{value:>5.2f}x    {'MET' if value <= limit else 'MISSED'}")
    return "\n".join(lines)


# -- main ---------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=7, help="measured rounds after the warm-up (default 7)")
    parser.add_argument(
        "--time-limit", type=float, default=300, help="no new round after this many seconds (default 300)"
    )
    parser.add_argument("--rtt", default="0,0.5,1", help="added ms per round trip (default 0,0.5,1)")
    parser.add_argument("--concurrency", default="1,16", help="concurrent pages (default 1,16)")
    parser.add_argument("--pages", type=int, default=8, help="pages per case at concurrency 1 (default 8)")
    parser.add_argument(
        "--waves", type=int, default=2, help="waves per case at higher concurrency (default 2)"
    )
    parser.add_argument("--pool-size", type=int, default=16, help="max_size of Django's pool (default 16)")
    args = parser.parse_args()
    try:
        args.rtt = [float(v) for v in args.rtt.split(",")]
        args.concurrency = [int(v) for v in args.concurrency.split(",")]
    except ValueError:
        parser.error("--rtt and --concurrency take comma-separated numbers, e.g. 0,0.5,1 and 1,16")
    if not all(0 <= v <= 50 for v in args.rtt):
        parser.error("--rtt: from 0 to 50 ms")
    if not all(1 <= k <= 64 for k in args.concurrency):
        parser.error("--concurrency: from 1 to 64")
    if min(args.rounds, args.pages, args.waves, args.pool_size) < 1 or args.time_limit <= 0:
        parser.error("--rounds, --pages, --waves, --pool-size and --time-limit must be positive")
    return args


def header(args: argparse.Namespace) -> str:
    import asgiref
    import psycopg
    import psycopg_pool

    return "\n".join(
        [
            f"$ {house.command_line()}",
            f"date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M UTC}",
            f"Python {platform.python_version()}, Django {django.get_version()}, "
            f"asgiref {asgiref.__version__}, psycopg {psycopg.__version__} ({psycopg.pq.__impl__}), "
            f"psycopg_pool {psycopg_pool.__version__}",
            f"database: {house.database_description()}, reached through delayproxy.py",
            f"library: {house.library_version()}",
            f"machine: {platform.machine()}, {os.cpu_count()} CPUs, load average at start {house.load()}",
            f"page: {PAGE} books, then {', '.join(map(repr, LOOKUPS))}; "
            f"a case is {args.pages} pages alone or {args.waves} waves of concurrent pages; "
            f"Django's pool max_size {args.pool_size}; "
            f"1 warm-up round + up to {args.rounds} rounds (time limit {args.time_limit:g} s)",
        ]
    )


def main() -> None:
    args = parse_args()
    params = pg_params()
    pg_admin(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
    pg_admin(f"CREATE DATABASE {PG_DB}")
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    proxy = DelayProxy(params["host"], int(params["port"]))
    try:
        configure(proxy.port, args.pool_size)
        house.create_and_seed()
        print(header(args), flush=True)
        cases = [
            Case(rtt, setup, k, side)
            for rtt in args.rtt
            for setup in SETUPS
            for k in args.concurrency
            for side in SIDES
        ]
        direct = measured_rtt(int(params["port"]))
        added = {}
        for rtt in args.rtt:
            proxy.set_rtt(rtt)
            added[rtt] = measured_rtt(proxy.port) - direct
        check = Checker()
        offsets = Offsets()
        started = time.perf_counter()
        for rtt in args.rtt:  # warm-up: connections, code paths; query counts and checks
            proxy.set_rtt(rtt)
            for case in cases:
                if case.rtt == rtt:
                    (_, _, pages), case.queries = count_queries(
                        lambda c=case: loop.run_until_complete(run_case(c, args.pages, args.waves, offsets))
                    )
                    check(case, pages)
        done = 0
        for r in range(args.rounds):
            if time.perf_counter() - started > args.time_limit:
                break
            order = args.rtt[r % len(args.rtt) :] + args.rtt[: r % len(args.rtt)]
            for rtt in order:
                proxy.set_rtt(rtt)
                group = [c for c in cases if c.rtt == rtt]
                k = r % len(group)
                for case in group[k:] + group[:k]:
                    gc.collect()
                    times, cpu, _ = loop.run_until_complete(run_case(case, args.pages, args.waves, offsets))
                    case.samples += times
                    case.cpu.append(cpu)
            done += 1
            print(f"  round {done}/{args.rounds} done", file=sys.stderr, flush=True)
        print(table(cases, args.rtt, args.concurrency, added))
        print(targets(cases))
        print(
            f"\n({done} measured rounds in {time.perf_counter() - started:.0f} s after the warm-up; "
            f"load average at end {house.load()})"
        )
    finally:
        if settings.configured:
            from django.db import connections

            from relations import drivers

            if "native" in drivers.ASYNC_DRIVERS:
                from relations.drivers import native  # type: ignore[attr-defined]

                loop.run_until_complete(native.aclose())
            connections.close_all()
            connections["pooled"].close_pool()
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
        proxy.close()
        pg_admin(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")


if __name__ == "__main__":
    main()
