"""Reliability under overlapping loads, failed writes and dead connections (issue 11).

* Overlapping loads keep every hop: two loads whose paths share a hop, committing in
  either order, leave both paths readable with no query, and the objects that were
  cached first stay the ones cached (``b.author is b2.author`` where Django's one
  ``prefetch_related`` would make it so).  The interleavings are driven step by step
  on the sync driver (every commit order, deterministically), and the same overlaps
  run with ``asyncio.gather`` on each async driver.
* A write that can only fail while writing rolls every instance back; a ``to_attr``
  that clashes with a field, a relation or another lookup's ``to_attr`` is refused
  before any query.
* A storm of overlapping, cancelled and timed-out loads (and, on PostgreSQL, a few
  killed backends) leaves each relation either loaded with the right rows or not
  loaded, and every path whose load succeeded readable with no query.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import os
import random
import sqlite3
import threading
import weakref
from collections.abc import Callable
from typing import Any

import aiosqlite
import pytest
from asgiref.sync import async_to_sync
from django.core.exceptions import ObjectDoesNotExist
from django.db import connection
from django.db.models import Model, Prefetch
from django.db.utils import ConnectionHandler
from django.test.utils import CaptureQueriesContext, override_settings

from relations import aprefetch, prefetch
from relations.drivers import native
from relations.drivers.sqlite import SQLiteBackend
from relations.drivers.sync import evaluate
from relations.loaders.paths import load_one, prefetch_loader
from relations.loaders.tasks import Loader
from tests.testapp.models import Book

ASYNC_DRIVERS = ["thread", "native"]
DRIVERS = ["sync", *ASYNC_DRIVERS]

pytestmark = pytest.mark.django_db(transaction=True)  # native connections see committed rows only


def on(driver: str) -> Any:
    return override_settings(RELATIONS={"ASYNC_DRIVER": "thread" if driver == "sync" else driver})


def run(body: Callable[[], Any]) -> Any:
    """``await body()`` in a fresh event loop, closing its native connections after."""

    async def wrapper() -> Any:
        try:
            async with asyncio.timeout(60):
                return await body()
        finally:
            await native.aclose()

    return async_to_sync(wrapper)()


def readable(obj: Model, path: str) -> list[Any]:
    """Follow ``path`` by plain attribute access, with no query (strict mode raises otherwise)."""
    current: list[Any] = [obj]
    with CaptureQueriesContext(connection) as ctx:
        for hop in path.split("__"):
            step = []
            for item in current:
                try:
                    value = getattr(item, hop)
                except ObjectDoesNotExist:  # a reverse one-to-one cached as "no row"
                    value = None
                if hasattr(value, "all"):
                    step.extend(value.all())
                elif value is not None:
                    step.append(value)
            current = step
    assert not ctx.captured_queries, ctx.captured_queries
    return current


def interleaved(loaders: list[Loader[Any]]) -> list[Any]:
    """Run loaders one task at a time in turn (sync driver): who ends first commits first."""
    results: list[Any] = [None] * len(loaders)
    tasks: dict[int, Any] = {}
    for index, loader in enumerate(loaders):
        tasks[index] = next(loader)
    while tasks:
        for index in list(tasks):
            try:
                tasks[index] = loaders[index].send(evaluate(tasks[index]))
            except StopIteration as stop:
                results[index] = stop.value
                del tasks[index]
    return results


def fresh_book(title: str = "B1") -> Book:
    return Book.objects.get(title=title)


OVERLAPS = [
    ("author__publisher", "author__profile"),
    ("author__publisher", "author"),
    ("author", "author__publisher"),
    ("author__publisher", "author__mentor"),
    ("tags__books", "tags"),
    ("author__books__tags", "author__books"),
]


@pytest.mark.parametrize("paths", OVERLAPS, ids=["+".join(p) for p in OVERLAPS])
@pytest.mark.parametrize("first", [0, 1], ids=["first-starts", "second-starts"])
def test_overlapping_loads_keep_every_hop_in_either_commit_order(committed_data, paths, first):
    book = fresh_book()
    order = list(paths) if first == 0 else list(reversed(paths))
    values = interleaved([load_one(book, path) for path in order])
    for path, value in zip(order, values, strict=True):
        end = readable(book, path)
        if isinstance(value, list):
            assert [id(v) for v in value] == [id(v) for v in dict.fromkeys(end)]
        elif value is not None:
            assert end == [value] and end[0] is value  # what R() returned is what is cached


def test_overlapping_loads_keep_the_object_cached_first(committed_data):
    book = fresh_book()
    first, second = (load_one(book, p) for p in ("author__publisher", "author__profile"))
    author = None
    # The first commits, then the second (which loaded another copy of the same row).
    task_a, task_b = next(first), next(second)
    task_a = first.send(evaluate(task_a))
    task_b = second.send(evaluate(task_b))
    with pytest.raises(StopIteration):
        first.send(evaluate(task_a))
    author = book.author
    with pytest.raises(StopIteration) as stop:
        second.send(evaluate(task_b))
    assert book.author is author
    assert stop.value.value is author.profile
    assert readable(book, "author__publisher") == [committed_data["publishers"][0]]


def test_refresh_replaces_the_object_but_keeps_what_the_old_one_had_loaded(committed_data):
    book = fresh_book()
    plain, refreshed = load_one(book, "author__publisher"), load_one(book, "author", refresh=True)
    interleaved([plain, refreshed])  # the plain load commits first, the refresh after
    author = book.author
    assert readable(book, "author__publisher") == [committed_data["publishers"][0]]
    load_one_sync(book, "author", refresh=True)
    assert book.author is not author  # a refresh gives new objects...
    assert readable(book, "author__publisher")  # ... that keep what the old ones had loaded


def test_copies_of_a_row_keep_their_own_objects_and_all_get_the_later_hops(committed_data):
    # Two Book objects of one row, each with its own Author object (as Django gives
    # two separate loads): a load that fetched one Author object for both, and
    # committed after them, attaches the publisher to both cached Author objects.
    first, second = fresh_book(), fresh_book()
    both = prefetch_loader([first, second], ["author__publisher"])
    interleaved([both, load_one(first, "author"), load_one(second, "author")])
    assert first.author is not second.author
    for book in (first, second):
        assert readable(book, "author__publisher") == [committed_data["publishers"][0]]
    # What R() returns is what its own root has cached.
    third = fresh_book()
    load_one_sync(third, "author")
    [value] = interleaved([load_one(third, "author__publisher")])
    assert value is third.author.publisher


def load_one_sync(obj: Model, path: str, **kwargs: Any) -> Any:
    return interleaved([load_one(obj, path, **kwargs)])[0]


def test_aprefetch_and_r_overlapping(committed_data):
    books = list(Book.objects.order_by("pk"))
    loaders = [prefetch_loader(books, ["author__publisher", "tags"]), load_one(books[0], "author__mentor")]
    for order in itertools.permutations(range(2)):
        books = list(Book.objects.order_by("pk"))
        loaders = [
            prefetch_loader(books, ["author__publisher", "tags"]),
            load_one(books[0], "author__mentor"),
        ]
        interleaved([loaders[i] for i in order])
        for book in books:
            readable(book, "author__publisher")
            readable(book, "tags")
        readable(books[0], "author__mentor")
        # b1 and b2 share an author: one prefetch made them share the object.
        assert books[0].author is books[1].author


@pytest.mark.parametrize("driver", ASYNC_DRIVERS)
@pytest.mark.parametrize("paths", OVERLAPS, ids=["+".join(p) for p in OVERLAPS])
def test_gathered_overlapping_loads_keep_every_hop(committed_data, driver, paths):
    async def body() -> Book:
        book = await Book.objects.aget(title="B1")
        await asyncio.gather(*(book.R(path) for path in paths))
        return book

    with on(driver):
        book = run(body)
    for path in paths:
        readable(book, path)


@pytest.mark.parametrize("driver", ASYNC_DRIVERS)
def test_gathered_peers_share_the_author_object(committed_data, driver):
    async def body() -> list[Book]:
        books = [b async for b in Book.objects.filter(title__in=["B1", "B2"]).order_by("pk")]
        await asyncio.gather(
            books[0].R("author__publisher"), books[1].R("author__profile"), aprefetch(books, "author")
        )
        return books

    with on(driver):
        books = run(body)
    assert books[0].author is books[1].author
    for book in books:
        readable(book, "author__publisher")
        readable(book, "author__profile")


def prefetch_on(driver: str, instances: list[Model], *lookups: Any) -> Any:
    """``prefetch()`` on the sync driver, else ``aprefetch()`` on ``driver``."""
    if driver == "sync":
        return prefetch(instances, *lookups)
    with on(driver):
        return run(lambda: aprefetch(instances, *lookups))


def nothing_loaded(obj: Model, *names: str) -> None:
    assert not obj._state.fields_cache, obj._state.fields_cache
    assert not getattr(obj, "_prefetched_objects_cache", None)
    for name in names:
        assert name not in obj.__dict__


CLASHES = [
    (Prefetch("tags", to_attr="editor"), "Book.editor, a forward foreign key"),
    (Prefetch("tags", to_attr="reviews"), "Book.reviews, a reverse foreign key"),
    (Prefetch("tags", to_attr="title"), "Book.title, a field (CharField)"),
    (Prefetch("tags", to_attr="author_id"), "Book.author_id, a field (ForeignKey)"),
    (Prefetch("author__books", to_attr="publisher"), "Author.publisher, a forward foreign key"),
]


@pytest.mark.parametrize("driver", DRIVERS)
@pytest.mark.parametrize(("lookup", "named"), CLASHES, ids=[c[0].to_attr for c in CLASHES])
def test_a_to_attr_that_clashes_is_refused_before_any_query(committed_data, driver, lookup, named):
    book = fresh_book()
    with CaptureQueriesContext(connection) as ctx, pytest.raises(ValueError) as error:
        prefetch_on(driver, [book], "author", "tags", lookup)
    assert named in str(error.value) and f'to_attr="{lookup.to_attr}"' in str(error.value)
    assert not ctx.captured_queries
    nothing_loaded(book)


@pytest.mark.parametrize("driver", DRIVERS)
def test_two_lookups_with_one_to_attr_are_refused_before_any_query(committed_data, driver):
    book = fresh_book()
    lookups = (Prefetch("tags", to_attr="picked"), Prefetch("reviews", to_attr="picked"))
    with CaptureQueriesContext(connection) as ctx, pytest.raises(ValueError, match=r"both set Book\.picked"):
        prefetch_on(driver, [book], "author", *lookups)
    assert not ctx.captured_queries
    nothing_loaded(book, "picked")
    # The same plain lookup twice is harmless, as in Django.
    prefetch_on(driver, [book], Prefetch("tags", to_attr="picked"), Prefetch("tags", to_attr="picked"))
    assert [t.name for t in book.picked] == ["sf", "poetry"]


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_write_that_fails_while_writing_writes_nothing(committed_data, driver, monkeypatch):
    # After a generic foreign key the model is only known from the data, so this
    # to_attr (a read-only property) can only fail while writing: everything is undone.
    monkeypatch.setattr(Book, "frozen", property(lambda self: "frozen"), raising=False)
    from tests.testapp.models import Comment

    comments = list(Comment.objects.filter(content_type__model="book").order_by("pk"))
    assert len(comments) == 2
    with pytest.raises(AttributeError):
        prefetch_on(driver, comments, "content_type", Prefetch("target__tags", to_attr="frozen"))
    for comment in comments:
        nothing_loaded(comment)
    # Nothing half-written is left on the objects either: the same load works without it.
    prefetch_on(driver, comments, "target__tags")
    for comment in comments:
        readable(comment, "target")


# --- native SQLite connections that went bad while idle -----------------------------------------------


def scratch_database(path: Any, value: str) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (v TEXT)")
        db.execute("INSERT INTO t VALUES (?)", [value])
    db.close()


def scratch_backend(path: Any) -> SQLiteBackend:
    """The native SQLite backend of a private database file (any test leg)."""
    handler = ConnectionHandler({"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(path)}})
    return SQLiteBackend(handler.create_connection("default"), 2)


def test_a_native_sqlite_connection_follows_a_replaced_database_file(tmp_path):
    path = tmp_path / "db.sqlite3"
    scratch_database(path, "old")

    async def body() -> None:
        backend = scratch_backend(path)
        try:
            assert await backend.fetchall("SELECT v FROM t", ()) == [("old",)]
            [first] = backend._all
            assert await backend.fetchall("SELECT v FROM t", ()) == [("old",)]
            assert backend._all == [first]  # an unchanged file keeps its connection
            scratch_database(tmp_path / "new.sqlite3", "new")
            os.replace(tmp_path / "new.sqlite3", path)  # a restored backup, a deploy
            # The old connection would go on reading the deleted file ("old").
            assert await backend.fetchall("SELECT v FROM t", ()) == [("new",)]
            assert len(backend._all) == 1 and backend._all[0] is not first
            assert not first.alive()
        finally:
            await backend.aclose()

    run(body)


def test_a_native_sqlite_connection_whose_thread_ended_is_replaced(tmp_path):
    path = tmp_path / "db.sqlite3"
    scratch_database(path, "row")

    async def body() -> None:
        backend = scratch_backend(path)
        try:
            await backend.fetchall("SELECT v FROM t", ())
            [first] = backend._all
            # The thread ends while aiosqlite still counts the connection as open:
            # a query sent to it would never be answered.
            first.aio._tx.put_nowait((None, lambda: aiosqlite.core._STOP_RUNNING_SENTINEL))
            await asyncio.to_thread(first.aio._thread.join, 10)
            assert not first.aio._thread.is_alive()
            async with asyncio.timeout(10):
                assert await backend.fetchall("SELECT v FROM t", ()) == [("row",)]
            assert len(backend._all) == 1 and backend._all[0] is not first
        finally:
            async with asyncio.timeout(10):  # closing skips the dead one instead of hanging
                await backend.aclose()

    run(body)


def test_loop_connection_objects_go_with_their_thread():
    # asgiref's async_to_sync runs each call's event loop in a new thread: the
    # connection object a thread compiled with must not outlive it.
    from relations.drivers import observe

    refs: list[weakref.ref[Any]] = []

    def in_thread() -> None:
        wrapper = observe.loop_connection("default")
        assert observe.loop_connection("default") is wrapper  # one per thread and alias
        refs.append(weakref.ref(wrapper))

    for _ in range(3):
        thread = threading.Thread(target=in_thread)
        thread.start()
        thread.join()
    gc.collect()
    assert len(refs) == 3 and all(ref() is None for ref in refs)
    assert observe.loop_connection("default") is observe.loop_connection("default")


# --- the storm --------------------------------------------------------------------------------------

STORM_PATHS = [
    "author",
    "author__publisher",
    "author__profile",
    "author__mentor",
    "editor__publisher",
    "tags",
    "tags__books",
    "author__books",
    "author__books__tags",
    "reviews__created_by",
]
STORM_ROUNDS = 4
STORM_OPS = 200  # per round
STORM_KILLS = 4  # per round, PostgreSQL and the native driver only


class Truth:
    """What the database says each cached relation holds (the data does not change)."""

    def __init__(self) -> None:
        self._known: dict[tuple[Any, Any, str], Any] = {}

    def of(self, obj: Model, name: str, many: bool) -> Any:
        key = (type(obj), obj.pk, name)
        if key not in self._known:
            found = type(obj)._base_manager.filter(pk=obj.pk).values_list(name, flat=True)
            self._known[key] = {pk for pk in found if pk is not None} if many else next(iter(found), None)
        return self._known[key]


def check_every_cache(roots: list[Model], truth: Truth) -> int:
    """Each cached relation of every object reachable from ``roots`` holds the right rows."""
    seen: dict[int, Model] = {}
    todo = list(roots)
    while todo:
        obj = todo.pop()
        if id(obj) in seen:
            continue
        seen[id(obj)] = obj
        for name, value in obj._state.fields_cache.items():
            assert (value.pk if value is not None else None) == truth.of(obj, name, False), (obj, name)
            if value is not None:
                todo.append(value)
        for name, queryset in getattr(obj, "_prefetched_objects_cache", {}).items():
            rows = queryset._result_cache
            assert rows is not None, (obj, name)
            assert len({r.pk for r in rows}) == len(rows) and {r.pk for r in rows} == truth.of(
                obj, name, True
            )
            todo.extend(rows)
    return len(seen)


async def kill_native_sessions(excluded: list[int], rng: random.Random, figures: dict[str, int]) -> None:
    from tests.test_native_faults import observer

    kills = 0
    async with observer(excluded) as obs:
        while kills < STORM_KILLS:
            await asyncio.sleep(rng.uniform(0.002, 0.01))
            pids = await obs.native_pids()
            if pids:
                await obs.conn.execute("SELECT pg_terminate_backend(%s)", [rng.choice(pids)])
                kills += 1
                figures["backends killed"] += 1


async def storm_round(
    roots: list[Model], rng: random.Random, figures: dict[str, int], done: list[tuple[Model, str]], kill: bool
) -> None:
    from django.db import InterfaceError, OperationalError

    async def one() -> None:
        timeout = rng.uniform(0, 0.004) if rng.random() < 0.15 else None
        loads = rng.random() < 0.75
        target, path = rng.choice(roots), rng.choice(STORM_PATHS)
        group, paths = rng.sample(roots, rng.randint(1, len(roots))), rng.sample(STORM_PATHS, 2)
        refresh = rng.random() < 0.1
        try:
            async with asyncio.timeout(timeout):
                if loads:
                    await target.R(path, refresh=refresh)
                    done.append((target, path))
                else:
                    await aprefetch(group, *paths)
                    done.extend((obj, p) for obj in group for p in paths)
            figures["succeeded"] += 1
        except TimeoutError:
            figures["timed out"] += 1
        except asyncio.CancelledError:
            figures["cancelled"] += 1
        except (OperationalError, InterfaceError):
            assert kill, "a database error without a killed backend"
            figures["failed (killed backend)"] += 1

    tasks = [asyncio.create_task(one()) for _ in range(STORM_OPS)]
    loop = asyncio.get_running_loop()
    for task in tasks:
        if rng.random() < 0.15:
            loop.call_later(rng.uniform(0, 0.004), task.cancel)
    for result in await asyncio.gather(*tasks, return_exceptions=True):
        if result is not None:
            raise result  # anything but the expected failures above is a bug


@pytest.mark.parametrize("driver", ASYNC_DRIVERS)
def test_storm_of_overlapping_cancelled_and_timed_out_loads(committed_data, driver):
    kill = driver == "native" and connection.vendor == "postgresql"
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    figures = dict.fromkeys(
        ["succeeded", "cancelled", "timed out", "failed (killed backend)", "backends killed"], 0
    )
    truth = Truth()
    checked_paths = checked_objects = 0
    excluded = []
    if kill:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            excluded.append(cursor.fetchone()[0])
    for _ in range(STORM_ROUNDS):
        # Peers (one queryset) and loners (one query each) overlapping on shared rows.
        roots: list[Model] = [
            *Book.objects.order_by("pk"),
            *(Book.objects.get(pk=b.pk) for b in committed_data["books"][:2]),
        ]
        done: list[tuple[Model, str]] = []

        async def body(roots: list[Model] = roots, done: list[tuple[Model, str]] = done) -> None:
            killer = asyncio.create_task(kill_native_sessions(excluded, rng, figures)) if kill else None
            await storm_round(roots, rng, figures, done, kill)
            if killer is not None:
                killer.cancel()
                await asyncio.gather(killer, return_exceptions=True)

        with on(driver):
            run(body)
        for obj, path in done:  # every successfully awaited path, with no query
            try:
                readable(obj, path)
            except Exception as exc:
                raise AssertionError(f"{path!r} of {obj!r} (seed {seed})") from exc
        checked_paths += len(done)
        checked_objects += check_every_cache(roots, truth)
    print(
        f"\nstorm ({driver}, {connection.vendor}, seed {seed}): {figures}; {checked_paths} paths "
        f"readable, {checked_objects} objects checked"
    )
    assert figures["succeeded"] > STORM_ROUNDS * STORM_OPS // 3
