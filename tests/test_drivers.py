"""The driver core and its two drivers.

* ``drive()`` / ``run_sync()`` with hand-written loaders (no database);
* the same loaders on the sync and the thread driver give identical results and
  identical cache states, over every relation kind;
* failures are atomic on a real database: a query that fails in the middle of a
  load propagates and leaves every instance as it was;
* a task cancelled in the middle of a load (a real event loop, asgiref's worker
  thread) leaves every instance as it was.
"""

from __future__ import annotations

import asyncio
import threading
import traceback
from collections.abc import Generator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.contenttypes.models import ContentType
from django.db import OperationalError, connections
from django.db.models import Model, Prefetch
from django.test.utils import CaptureQueriesContext, override_settings

from relations import R, aprefetch, prefetch
from relations.drivers import core, run_async, run_sync, sync, thread
from relations.loaders.tasks import Fetch
from tests.conftest import queries, run
from tests.loader_helpers import (
    BlockingSelect,
    SelectLog,
    failing_select,
    snapshot,
    warm_contenttypes,
    worker_add_wrapper,
    worker_close_connections,
    worker_remove_wrapper,
)
from tests.testapp.models import (
    Author,
    Book,
    Club,
    Comment,
    Membership,
    Place,
    Profile,
    Publisher,
    Restaurant,
    Review,
    Tag,
)

# --- the driver core with hand-written loaders (no database) ---------------------------------------------


class Boom(Exception):  # noqa: N818
    pass


def recording_loader(log: list[Any]) -> Generator[Any, list[Any], str]:
    first = yield "task-1"
    log.append(("got", first))
    second = yield "task-2"
    log.append(("got", second))
    return f"done:{len(first)}+{len(second)}"


def test_run_sync_sends_results_back_and_returns_the_value():
    log: list[Any] = []
    seen: list[Any] = []

    def execute(task: Any) -> list[Any]:
        seen.append(task)
        return [task] * (1 if task == "task-1" else 2)

    assert core.run_sync(recording_loader(log), execute) == "done:1+2"
    assert seen == ["task-1", "task-2"]
    assert log == [("got", ["task-1"]), ("got", ["task-2", "task-2"])]


def test_drive_on_an_event_loop():
    log: list[Any] = []

    async def execute(task: Any) -> list[Any]:
        await asyncio.sleep(0)  # a real suspension
        return [task]

    assert asyncio.run(core.drive(recording_loader(log), execute)) == "done:1+1"
    assert log == [("got", ["task-1"]), ("got", ["task-2"])]


def test_loader_without_tasks():
    def loader() -> Generator[Any, list[Any], int]:
        return 42
        yield  # pragma: no cover

    def execute(task: Any) -> list[Any]:  # pragma: no cover
        raise AssertionError("no task was yielded")

    assert core.run_sync(loader(), execute) == 42


def test_yield_from_composition():
    def child(name: str) -> Generator[Any, list[Any], list[Any]]:
        rows = yield name
        return [r.upper() for r in rows]

    def parent() -> Generator[Any, list[Any], Any]:
        a = yield from child("a")
        b = yield from child("b")
        return a + b

    assert core.run_sync(parent(), lambda task: [task, task]) == ["A", "A", "B", "B"]


def test_error_from_execute_is_thrown_into_the_loader_at_its_yield():
    where: list[str] = []

    def loader() -> Generator[Any, list[Any], Any]:
        yield "ok"
        try:
            yield "fails"
        except Boom as exc:
            where.append(f"caught at the second yield: {exc}")
            raise

    def execute(task: Any) -> list[Any]:
        if task == "fails":
            raise Boom("db down")
        return []

    gen = loader()
    with pytest.raises(Boom, match="db down") as info:
        core.run_sync(gen, execute)
    assert where == ["caught at the second yield: db down"]
    # The traceback shows the loader line that asked for the query.
    frames = [f.name for f in traceback.extract_tb(info.value.__traceback__)]
    assert "loader" in frames and "execute" in frames
    assert gen.gi_frame is None  # the loader is finished


def test_error_propagates_on_the_event_loop_too():
    def loader() -> Generator[Any, list[Any], Any]:
        yield "fails"
        raise AssertionError("not reached")  # pragma: no cover

    async def execute(task: Any) -> list[Any]:
        await asyncio.sleep(0)
        raise Boom("async failure")

    with pytest.raises(Boom, match="async failure"):
        asyncio.run(core.drive(loader(), execute))


def test_loader_that_catches_can_go_on():
    def loader() -> Generator[Any, list[Any], Any]:
        try:
            yield "fails"
        except Boom:
            fallback = yield "fallback"
            return ("recovered", fallback)
        return "not reached"  # pragma: no cover

    seen: list[Any] = []

    def execute(task: Any) -> list[Any]:
        seen.append(task)
        if task == "fails":
            raise Boom
        return [1, 2]

    assert core.run_sync(loader(), execute) == ("recovered", [1, 2])
    assert seen == ["fails", "fallback"]


def test_base_exceptions_are_thrown_in_as_well():
    """Cancellation is a BaseException: it must reach the loader like any failure."""
    reached: list[str] = []

    def loader() -> Generator[Any, list[Any], Any]:
        try:
            yield "task"
        except asyncio.CancelledError:
            reached.append("loader saw the cancellation")
            raise

    async def execute(task: Any) -> list[Any]:
        raise asyncio.CancelledError

    coroutine = core.drive(loader(), execute)
    with pytest.raises(asyncio.CancelledError):
        coroutine.send(None)
    assert reached == ["loader saw the cancellation"]


def test_loader_raising_a_new_error_while_handling():
    def loader() -> Generator[Any, list[Any], Any]:
        try:
            yield "fails"
        except Boom as exc:
            raise ValueError("translated") from exc

    def execute(task: Any) -> list[Any]:
        raise Boom("original")

    with pytest.raises(ValueError, match="translated") as info:
        core.run_sync(loader(), execute)
    assert isinstance(info.value.__cause__, Boom)


def test_loader_error_before_first_task():
    def loader() -> Generator[Any, list[Any], Any]:
        raise Boom("at start")
        yield  # pragma: no cover

    with pytest.raises(Boom, match="at start"):
        core.run_sync(loader(), lambda task: [])


def test_empty_results_and_many_tasks():
    def loader() -> Generator[Any, list[Any], int]:
        total = 0
        for i in range(100):
            rows = yield i
            total += len(rows)
        return total

    assert core.run_sync(loader(), lambda task: list(range(task % 3))) == sum(i % 3 for i in range(100))


# --- the real drivers ----------------------------------------------------------------------------------


def test_sync_driver_evaluates_a_fetch(data):
    with queries() as q:
        rows = sync.evaluate(Fetch(Tag.objects.order_by("name")))
    assert [t.name for t in rows] == ["essay", "poetry", "sf"]
    assert type(rows) is list
    assert len(q) == 1
    assert Fetch(Tag.objects.using("other")).using == "other"
    assert Fetch(Tag.objects.all()).using == "default"


def _fetch_loader() -> Generator[Any, list[Any], Any]:
    authors = yield Fetch(Author.objects.order_by("pk"))
    books = yield Fetch(Book.objects.filter(author__in=authors).order_by("pk"))
    return [a.name for a in authors], [b.title for b in books]


def test_sync_and_thread_driver_on_a_hand_written_loader(data):
    with queries() as q:
        on_sync = run_sync(_fetch_loader())
    assert len(q) == 2

    async def go() -> Any:
        return await run_async(_fetch_loader())

    with queries() as q:
        on_thread = run(go)
    assert len(q) == 2  # thread-sensitive: on this thread's connection
    assert on_sync == on_thread == (["Ada", "Bob", "Cy"], ["B1", "B2", "B3", "B4"])


def test_thread_driver_runs_queries_on_the_calling_threads_connection(data):
    book = Book.objects.get(title="B1")
    log = SelectLog()

    async def go() -> Any:
        return await core.drive(R(book, "author__publisher").loader(), thread.execute)

    with connections["default"].execute_wrapper(log):
        pub = run(go)
    assert pub.name == "Penguin"
    assert log.threads == {threading.get_ident()}


@pytest.mark.parametrize("setting", [None, {"ASYNC_DRIVER": "auto"}, {"ASYNC_DRIVER": "thread"}])
def test_async_driver_setting(data, setting):
    book = Book.objects.get(title="B1")

    async def go() -> Any:
        return await book.R("author")

    settings = override_settings(RELATIONS=setting) if setting is not None else override_settings()
    with settings, queries() as q:
        assert run(go).name == "Ada"
    assert len(q) == 1


# --- the same loader on both drivers: identical results --------------------------------------------------

EQUIVALENCE = [
    (Book, "author"),
    (Book, "editor"),
    (Book, "author__publisher"),
    (Book, "author__profile"),
    (Book, "author__mentor"),
    (Book, "tags"),
    (Book, "tags__books"),
    (Book, "comments"),
    (Book, "comments__target"),
    (Book, "chapters"),
    (Book, "reviews__created_by"),
    (Book, "author__books__tags"),
    (Author, "books"),
    (Author, "profile"),
    (Author, "publisher"),
    (Author, "mentees"),
    (Author, "clubs"),
    (Author, "membership_set__club"),
    (Author, "edited_books__tags"),
    (Author, "places"),
    (Author, "review_created"),
    (Publisher, "authors__books"),
    (Tag, "books"),
    (Tag, "books__author__publisher"),
    (Comment, "target"),
    (Profile, "author"),
    (Club, "members__profile"),
    (Membership, "club"),
    (Place, "restaurant"),
    (Restaurant, "place_ptr"),
    (Restaurant, "owner"),
    (Review, "book__tags"),
]


def _as_sync(obj: Model, path: str) -> Any:
    return obj.R(path).sync()


def _as_thread(obj: Model, path: str) -> Any:
    async def go() -> Any:
        return await obj.R(path)

    return run(go)


def _prefetch_sync(objs: list[Model], path: str) -> Any:
    return prefetch(objs, path)


def _prefetch_thread(objs: list[Model], path: str) -> Any:
    async def go() -> Any:
        return await aprefetch(objs, path)

    return run(go)


def _state_after(model: type[Model], path: str, one: Any, batch: Any) -> tuple[Any, ...]:
    ContentType.objects.clear_cache()
    objs = list(model.objects.order_by("pk"))
    with queries() as q:
        values = [one(obj, path) for obj in objs]
    # Unordered relations (tags) may come back in another row order on PostgreSQL.
    singles = (snapshot(values, depth=2, any_order=True), snapshot(objs, depth=3, any_order=True), len(q))
    ContentType.objects.clear_cache()
    objs = list(model.objects.order_by("pk"))
    with queries() as q:
        returned = batch(objs, path)
    batched = (snapshot(returned, depth=0, any_order=True), snapshot(objs, depth=3, any_order=True), len(q))
    return singles, batched


@pytest.mark.parametrize(("model", "path"), EQUIVALENCE, ids=[f"{m.__name__}.{p}" for m, p in EQUIVALENCE])
def test_sync_and_thread_drivers_are_equivalent(data, model, path):
    on_sync = _state_after(model, path, _as_sync, _prefetch_sync)
    on_thread = _state_after(model, path, _as_thread, _prefetch_thread)
    assert on_sync[0] == on_thread[0]  # R() per instance: values, caches, query count
    assert on_sync[1] == on_thread[1]  # prefetch vs aprefetch: list, caches, query count
    # And R() one by one leaves the same cache state as one batch (modulo query count).
    assert on_sync[0][1] == on_sync[1][1]


# --- failures are atomic (real database, both drivers) ---------------------------------------------------

DRIVERS = ["sync", "thread"]


def _r(driver: str, obj: Model, path: str, **kwargs: Any) -> Any:
    if driver == "sync":
        return obj.R(path, **kwargs).sync()

    async def go() -> Any:
        return await obj.R(path, **kwargs)

    return run(go)


def _batch(driver: str, objs: Any, *lookups: Any) -> Any:
    if driver == "sync":
        return prefetch(objs, *lookups)

    async def go() -> Any:
        return await aprefetch(objs, *lookups)

    return run(go)


def _nothing_cached(objs: list[Model]) -> bool:
    return all(
        not obj._state.fields_cache and not getattr(obj, "_prefetched_objects_cache", {}) for obj in objs
    )


@pytest.mark.parametrize("driver", DRIVERS)
@pytest.mark.parametrize("fail_on", [1, 2])
def test_failed_query_in_path_writes_nothing(data, driver, fail_on):
    book = Book.objects.get(title="B1")
    with failing_select(fail_on) as wrapper, pytest.raises(OperationalError, match="injected"):
        _r(driver, book, "author__publisher")
    assert wrapper.selects == fail_on
    assert not Book.author.field.is_cached(book)
    assert _nothing_cached([book])
    # The instance is intact: the same load now succeeds.
    with queries() as q:
        assert _r(driver, book, "author__publisher").name == "Penguin"
    assert len(q) == 2


@pytest.mark.parametrize("driver", DRIVERS)
def test_failed_to_many_hop_writes_nothing(data, driver):
    ada = Author.objects.get(name="Ada")
    with failing_select(2), pytest.raises(OperationalError):
        _r(driver, ada, "books__tags")
    assert "books" not in getattr(ada, "_prefetched_objects_cache", {})
    assert _nothing_cached([ada])


@pytest.mark.parametrize("driver", DRIVERS)
def test_failed_refresh_keeps_the_old_value(data, driver):
    book = Book.objects.get(title="B1")
    author = _r(driver, book, "author")
    with failing_select(1), pytest.raises(OperationalError):
        _r(driver, book, "author", refresh=True)
    assert book.author is author


@pytest.mark.parametrize("driver", DRIVERS)
def test_failed_load_after_deferred_column_fetch_writes_nothing(data, driver):
    book = Book.objects.only("title").get(title="B1")
    with failing_select(2), pytest.raises(OperationalError):
        _r(driver, book, "author")
    assert "author_id" in book.get_deferred_fields()  # the fetched column was not written either
    assert not Book.author.field.is_cached(book)


@pytest.mark.parametrize("driver", DRIVERS)
def test_failed_generic_hop_writes_nothing(data, driver):
    warm_contenttypes()
    comment = Comment.objects.get(text="on b1")
    with failing_select(2), pytest.raises(OperationalError):
        _r(driver, comment, "target__author")
    assert not Comment._meta.get_field("target").is_cached(comment)
    assert _nothing_cached([comment])


@pytest.mark.parametrize("driver", DRIVERS)
@pytest.mark.parametrize(
    ("lookups", "fail_on"),
    [
        (("author__publisher",), 2),
        (("author", "tags"), 2),
        (("tags__books",), 2),
        ((Prefetch("books", queryset=Book.objects.prefetch_related("tags")),), 2),
    ],
    ids=["path", "second-lookup", "to-many-path", "nested-prefetch"],
)
def test_failed_batch_writes_nothing(data, driver, lookups, fail_on):
    model = Author if isinstance(lookups[0], Prefetch) else Book
    objs = list(model.objects.order_by("pk"))
    with failing_select(fail_on), pytest.raises(OperationalError):
        _batch(driver, objs, *lookups)
    assert _nothing_cached(objs)


@pytest.mark.parametrize("driver", DRIVERS)
def test_failed_batch_from_queryset(data, driver):
    with failing_select(2), pytest.raises(OperationalError):
        _batch(driver, Book.objects.all(), "author")


@pytest.mark.django_db(databases=["default", "other"])
@pytest.mark.parametrize("driver", DRIVERS)
def test_failure_on_second_database_writes_nothing_on_the_first(data, driver):
    author = Author.objects.using("other").create(name="Other")
    Book.objects.using("other").create(title="OB", author=author)
    objs = list(Book.objects.order_by("pk")) + list(Book.objects.using("other").all())
    with failing_select(1, using="other"), pytest.raises(OperationalError):
        _batch(driver, objs, "author")
    assert _nothing_cached(objs)


# --- cancellation on a real event loop -------------------------------------------------------------------


async def _cancel_while_blocked(
    make_awaitable: Any, block_on: int
) -> tuple[asyncio.Future[Any], BlockingSelect]:
    """Start the load, wait until its n-th SELECT runs in the worker thread, cancel it,
    then let the thread go on."""
    loop = asyncio.get_running_loop()
    started = asyncio.Event()
    blocker = BlockingSelect(block_on, loop, started)
    await worker_add_wrapper(blocker)
    try:
        task = asyncio.ensure_future(make_awaitable())
        await asyncio.wait_for(started.wait(), 10)
        assert not task.done()
        task.cancel()
        blocker.release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert task.cancelled()
        # Let the worker thread finish the abandoned query: its result must be dropped.
        await sync_to_async(lambda: None, thread_sensitive=True)()
        assert blocker.done == block_on
        assert blocker.selects == block_on  # nothing ran after the cancelled query
    finally:
        blocker.release.set()
        await worker_remove_wrapper(blocker)
    return task, blocker


@pytest.fixture
def thread_driver(settings: Any) -> None:
    """These tests block the thread driver's worker thread: pin "auto" to it."""
    settings.RELATIONS = {"ASYNC_DRIVER": "thread"}


@pytest.mark.parametrize("block_on", [1, 2])
@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_cancelled_r_writes_nothing(data, block_on, thread_driver):
    try:
        book = await Book.objects.aget(title="B1")
        await _cancel_while_blocked(lambda: book.R("author__publisher"), block_on)
        assert not Book.author.field.is_cached(book)
        assert not book._state.fields_cache
        # Still usable: the next load works and caches every hop.
        pub = await book.R("author__publisher")
        assert pub.name == "Penguin" and book.author.publisher is pub
    finally:
        await worker_close_connections()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_cancelled_to_many_path_writes_nothing(data, thread_driver):
    try:
        ada = await Author.objects.aget(name="Ada")
        await _cancel_while_blocked(lambda: ada.R("books__tags"), 2)
        assert not getattr(ada, "_prefetched_objects_cache", {})
    finally:
        await worker_close_connections()


@pytest.mark.parametrize("block_on", [1, 2])
@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_cancelled_aprefetch_writes_nothing(data, block_on, thread_driver):
    try:
        books = [b async for b in Book.objects.order_by("pk")]
        await _cancel_while_blocked(lambda: aprefetch(books, "author__publisher", "tags"), block_on)
        assert _nothing_cached(books)
        await aprefetch(books, "author__publisher", "tags")
        assert [b.author.name for b in books] == ["Ada", "Ada", "Bob", "Cy"]
    finally:
        await worker_close_connections()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_cancelled_aprefetch_of_queryset(data, thread_driver):
    try:
        await _cancel_while_blocked(lambda: aprefetch(Book.objects.all(), "author"), 2)
    finally:
        await worker_close_connections()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_cancelled_before_the_first_query(data, thread_driver):
    try:
        book = await Book.objects.aget(title="B1")
        books = [b async for b in Book.objects.order_by("pk")]
        log = SelectLog()
        await worker_add_wrapper(log)
        try:
            for make in (lambda: book.R("author__publisher"), lambda: aprefetch(books, "author")):
                task = asyncio.ensure_future(make())
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
            await sync_to_async(lambda: None, thread_sensitive=True)()
        finally:
            await worker_remove_wrapper(log)
        assert log.selects == []
        assert not book._state.fields_cache
        assert _nothing_cached(books)
    finally:
        await worker_close_connections()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_relation_load_can_be_a_task(data):
    """``asyncio.create_task(book.R("author"))`` and ``TaskGroup.create_task`` work."""
    try:
        book = await Book.objects.aget(title="B1")
        task = asyncio.create_task(book.R("author"))
        author = await task
        assert author.name == "Ada"
        async with asyncio.TaskGroup() as group:
            pub = group.create_task(book.R("author__publisher"))
        assert pub.result().name == "Penguin"
    finally:
        await worker_close_connections()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_thread_driver_on_a_real_loop(data, thread_driver):
    """The loader runs in the loop's thread, each query in asgiref's worker thread."""
    try:
        book = await Book.objects.aget(title="B1")
        log = SelectLog()
        capture = await sync_to_async(lambda: CaptureQueriesContext(connections["default"]))()
        await worker_add_wrapper(log)
        await sync_to_async(capture.__enter__)()
        try:
            results = await asyncio.gather(book.R("author__publisher"), book.R("tags"))
        finally:
            await sync_to_async(capture.__exit__)(None, None, None)
            await worker_remove_wrapper(log)
        assert results[0].name == "Penguin"
        assert sorted(t.name for t in results[1]) == ["poetry", "sf"]
        assert len(capture) == 3
        assert threading.get_ident() not in log.threads
        assert book.author.publisher is results[0]
        assert len(book.tags.all()) == 2
    finally:
        await worker_close_connections()
