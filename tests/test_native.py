"""The native async drivers (aiosqlite / psycopg), the "auto" choice, coalescing and peers.

Native connections are separate sessions: they only see committed rows, so these
tests use ``committed_data`` (a transactional database).  Each test body runs in
one event loop (``run()``), whose native connections close when it ends.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ImproperlyConfigured
from django.db import OperationalError, connection, connections, transaction
from django.db.backends.signals import connection_created
from django.db.models import Model
from django.test.utils import override_settings

from relations import R, RelationNotLoaded, aprefetch
from relations.conf import parse
from relations.drivers import auto, native, run_async, statement, thread
from relations.loaders.tasks import Fetch
from tests.conftest import queries, run
from tests.loader_helpers import snapshot
from tests.test_drivers import EQUIVALENCE
from tests.testapp.models import Author, Book, Publisher, Tag


class acapture:  # noqa: N801 - reads as the context manager it is
    """CaptureQueriesContext on the calling sync thread's connection, from async code."""

    async def __aenter__(self) -> Any:
        self.ctx = queries()
        return await sync_to_async(self.ctx.__enter__)()

    async def __aexit__(self, *exc: Any) -> None:
        await sync_to_async(self.ctx.__exit__)(*exc)


pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "other"])

NATIVE = override_settings(RELATIONS={"ASYNC_DRIVER": "native"})
NO_PEERS = override_settings(RELATIONS={"PEERS": False})


def _native_open(alias: str = "default") -> bool:
    """Has this event loop opened a native backend for ``alias``?"""
    return alias in native._loops.get(asyncio.get_running_loop(), {})


class SelectLog:
    """An execute wrapper that records the SELECTs it sees and the thread it runs in."""

    def __init__(self, refuse: bool = False) -> None:
        self.sql: list[str] = []
        self.threads: set[int] = set()
        self.refuse = refuse

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if sql.startswith("SELECT"):
            self.sql.append(sql)
            self.threads.add(threading.get_ident())
            if self.refuse:
                raise OperationalError("refused by the execute wrapper")
        return execute(sql, params, many, context)


# --- the "auto" choice ----------------------------------------------------------------------------------


def test_auto_runs_natively_outside_transactions(committed_data):
    book = Book.objects.get(title="B1")

    async def go() -> Any:
        author = await book.R("author")
        return author.name, _native_open()

    with queries() as q:
        assert run(go) == ("Ada", True)
    assert len(q) == 1  # still seen by CaptureQueriesContext on this thread's connection


def test_auto_stays_on_djangos_connection_inside_atomic(committed_data):
    book = Book.objects.get(title="B1")

    async def go() -> Any:
        author = await book.R("author")
        return author.name, _native_open()

    with transaction.atomic():
        Author.objects.filter(name="Ada").update(name="Ada (uncommitted)")
        # A native connection would read the committed "Ada".
        assert run(go) == ("Ada (uncommitted)", False)
        transaction.set_rollback(True)


@pytest.mark.django_db(databases=["default", "other"])
def test_auto_stays_on_djangos_connection_inside_testcase_transaction(data):
    # ``data`` lives in the test's transaction (pytest-django's TestCase-like db).
    book = Book.objects.get(title="B1")

    async def go() -> Any:
        return (await book.R("author")).name, _native_open()

    assert run(go) == ("Ada", False)


def test_auto_falls_back_when_a_tool_hooks_the_cursor(committed_data):
    book = Book.objects.get(title="B1")
    original = connection.cursor
    seen = []

    def cursor(*args: Any, **kwargs: Any) -> Any:  # as the debug toolbar does
        seen.append(1)
        return original(*args, **kwargs)

    async def go() -> Any:
        return (await book.R("author")).name, _native_open()

    connection.cursor = cursor  # type: ignore[method-assign]
    try:
        assert run(go) == ("Ada", False)
    finally:
        del connection.cursor
    assert seen


def test_native_setting_refuses_a_database_without_native_driver(committed_data, monkeypatch):
    book = Book.objects.get(title="B1")
    monkeypatch.setattr(native, "unsupported", lambda alias: "there is no native driver for testdb")

    async def go() -> Any:
        return await run_async(book.R("author").loader(), "native")

    with pytest.raises(ImproperlyConfigured, match=r'"native" cannot run queries on database .default.'):
        run(go)
    assert not Book.author.field.is_cached(book)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"NATIVE_POOL_SIZE": 0}, "NATIVE_POOL_SIZE"),
        ({"NATIVE_POOL_SIZE": "4"}, "NATIVE_POOL_SIZE"),
        ({"NATIVE_TIMEOUT": -1}, "NATIVE_TIMEOUT"),
        ({"PEERS": "yes"}, "PEERS"),
        ({"ASYNC_DRIVER": "fast"}, "ASYNC_DRIVER"),
    ],
)
def test_native_settings_are_validated(raw, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        parse(raw)


def test_native_settings_defaults():
    parsed = parse({"ASYNC_DRIVER": "native"})
    assert (parsed.async_driver, parsed.native_pool_size, parsed.native_timeout, parsed.peers) == (
        "native",
        4,
        10.0,
        True,
    )


# --- Django's instrumentation sees native queries -------------------------------------------------------


@NATIVE
def test_native_queries_go_through_execute_wrappers(committed_data):
    book = Book.objects.get(title="B1")
    log = SelectLog()

    async def go() -> Any:
        return (await book.R("author__publisher")).name

    with connection.execute_wrapper(log):
        assert run(go) == "Penguin"
    assert [s.split(" FROM ")[1].split()[0] for s in log.sql] == ['"testapp_author"', '"testapp_publisher"']


@NATIVE
def test_an_execute_wrapper_can_refuse_a_native_query_and_nothing_is_cached(committed_data):
    book = Book.objects.get(title="B1")

    async def go() -> Any:
        return await book.R("author")

    with connection.execute_wrapper(SelectLog(refuse=True)), pytest.raises(OperationalError, match="refused"):
        run(go)
    assert not Book.author.field.is_cached(book)


@NATIVE
def test_native_queries_are_logged_like_djangos(committed_data, caplog, settings):
    settings.DEBUG = True
    book = Book.objects.get(title="B1")
    connection.queries_log.clear()

    async def go() -> Any:
        return (await book.R("author")).name

    with caplog.at_level(logging.DEBUG, logger="django.db.backends"):
        assert run(go) == "Ada"
    logged = [r for r in caplog.records if getattr(r, "sql", "").startswith('SELECT "testapp_author"')]
    assert len(logged) == 1
    assert logged[0].alias == "default"
    assert logged[0].params == (book.author_id,)
    # connection.queries shows the parameters inlined, as Django's debug cursor does.
    assert connection.queries[-1]["sql"].endswith(f'"testapp_author"."id" IN ({book.author_id})')


@NATIVE
def test_connection_created_fires_with_a_usable_connection(committed_data):
    book = Book.objects.get(title="B1")
    created = []

    def receiver(sender: Any, connection: Any, **kwargs: Any) -> None:
        with connection.cursor() as cursor:  # receivers may configure the new connection
            cursor.execute("SELECT 1")
            created.append((connection.alias, cursor.fetchone()[0]))

    async def go() -> Any:
        return (await book.R("author")).name

    connection_created.connect(receiver)
    try:
        assert run(go) == "Ada"
    finally:
        connection_created.disconnect(receiver)
    assert created == [("default", 1)]


# --- the same instances as the sync ORM -----------------------------------------------------------------


def _loaded_state(model: type[Model], path: str, load: Any) -> Any:
    ContentType.objects.clear_cache()
    objs = list(model.objects.order_by("pk"))
    values = [load(obj, path) for obj in objs]
    return snapshot(values, depth=2, any_order=True), snapshot(objs, depth=3, any_order=True)


@NATIVE
@pytest.mark.parametrize(("model", "path"), EQUIVALENCE, ids=[f"{m.__name__}.{p}" for m, p in EQUIVALENCE])
def test_native_and_sync_drivers_are_equivalent(committed_data, model, path):
    def on_sync(obj: Model, p: str) -> Any:
        return obj.R(p).sync()

    def on_native(obj: Model, p: str) -> Any:
        async def go() -> Any:
            return await obj.R(p)

        return run(go)

    assert _loaded_state(model, path, on_native) == _loaded_state(model, path, on_sync)


@NATIVE
def test_native_aprefetch_with_select_related_prefetch(committed_data):
    from django.db.models import Prefetch

    def state(books: list[Book]) -> Any:
        return snapshot(books, depth=3, any_order=True)

    lookups = (Prefetch("author", Author.objects.select_related("publisher")), "tags")
    expected = list(Book.objects.order_by("pk"))
    from relations import prefetch

    prefetch(expected, *lookups)

    async def go() -> list[Book]:
        books = [b async for b in Book.objects.order_by("pk")]
        await aprefetch(books, *lookups)
        return books

    assert state(run(go)) == state(expected)


def test_native_execute_matches_sync_for_values_free_querysets(committed_data):
    from django.db.models import Count

    shapes = [
        Book.objects.select_related("author__publisher").order_by("title"),
        Author.objects.annotate(n=Count("books")).order_by("-n", "name"),
        Book.objects.only("title").order_by("pk"),
        Book.objects.defer("title").filter(title__startswith="B").order_by("-pk"),
        Tag.objects.none(),
        Book.objects.filter(pk__in=[]),
    ]

    async def go() -> Any:
        return [await native.execute(Fetch(qs)) for qs in shapes]

    on_native = run(go)
    on_sync = [list(qs) for qs in shapes]
    assert snapshot(on_native, depth=2) == snapshot(on_sync, depth=2)
    assert [a.n for a in on_native[1]] == [a.n for a in on_sync[1]] == [2, 1, 1]


# --- coalescing ----------------------------------------------------------------------------------------


@NO_PEERS
def test_concurrent_r_calls_share_one_query(committed_data):
    ids = [b.pk for b in committed_data["books"]]

    async def go() -> Any:
        books = [await Book.objects.aget(pk=pk) for pk in ids]  # one query each: no peers
        async with acapture() as q:
            authors = await asyncio.gather(*(b.R("author") for b in books))
        return books, authors, q

    books, authors, q = run(go)
    assert len(q) == 1  # read here: the capture belongs to this thread's connection
    assert [a.name for a in authors] == ["Ada", "Ada", "Bob", "Cy"]
    assert all(b.author is a for b, a in zip(books, authors, strict=True))  # each its own object, cached


@NO_PEERS
def test_coalesced_calls_keep_paths_apart_and_to_many_lists_per_caller(committed_data):
    ids = [b.pk for b in committed_data["books"][:3]]

    async def go() -> Any:
        books = [await Book.objects.aget(pk=pk) for pk in ids]
        async with acapture() as q:
            tags = await asyncio.gather(*(b.R("tags") for b in books))
            pubs = await asyncio.gather(*(R(b, "author__publisher") for b in books))
        return tags, pubs, q

    tags, pubs, q = run(go)
    assert [sorted(t.name for t in ts) for ts in tags] == [
        ["poetry", "sf"],
        ["poetry"],
        ["essay", "poetry", "sf"],
    ]
    assert [p.name for p in pubs] == ["Penguin", "Penguin", "Faber"]
    assert len(q) == 3  # tags: 1; author and publisher: 1 each


@NO_PEERS
def test_a_cancelled_caller_leaves_the_batch_to_the_others(committed_data):
    ids = [b.pk for b in committed_data["books"][:2]]

    async def go() -> Any:
        b1, b2 = [await Book.objects.aget(pk=pk) for pk in ids]
        first = asyncio.ensure_future(b1.R("author"))
        second = asyncio.ensure_future(b2.R("author"))
        await asyncio.sleep(0)  # both joined the batch
        first.cancel()
        author = await second
        with pytest.raises(asyncio.CancelledError):
            await first
        return b2, author

    b2, author = run(go)
    assert author.name == "Ada" and b2.author is author


@NO_PEERS
def test_when_every_caller_is_cancelled_nothing_is_cached(committed_data):
    ids = [b.pk for b in committed_data["books"][:2]]

    async def go() -> Any:
        books = [await Book.objects.aget(pk=pk) for pk in ids]
        tasks = [asyncio.ensure_future(b.R("author")) for b in books]
        await asyncio.sleep(0)
        for task in tasks:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        return books, results

    books, results = run(go)
    assert all(isinstance(r, asyncio.CancelledError) for r in results)
    assert not any(Book.author.field.is_cached(b) for b in books)


@NO_PEERS
def test_an_error_reaches_every_coalesced_caller(committed_data):
    books = list(Book.objects.order_by("pk")[:2])

    async def go() -> Any:
        return await asyncio.gather(*(b.R("author") for b in books), return_exceptions=True)

    with connection.execute_wrapper(SelectLog(refuse=True)):
        results = run(go)
    assert [type(r) for r in results] == [OperationalError, OperationalError]


# --- peers ---------------------------------------------------------------------------------------------


def test_r_on_one_instance_loads_its_peers(committed_data):
    async def go() -> Any:
        books = [b async for b in Book.objects.order_by("pk")]
        async with acapture() as q:
            await books[0].R("author")
        return books, q

    books, q = run(go)
    assert len(q) == 1
    assert [b.author.name for b in books] == ["Ada", "Ada", "Bob", "Cy"]  # no RelationNotLoaded


def test_peers_work_for_to_many_relations_and_in_sync_code(committed_data):
    authors = list(Author.objects.order_by("pk"))
    with queries() as q:
        authors[1].R("books").sync()
    assert len(q) == 1
    assert [[b.title for b in a.books.all()] for a in authors] == [["B1", "B2"], ["B3"], ["B4"]]


@NO_PEERS
def test_peers_setting_turns_it_off(committed_data):
    books = list(Book.objects.order_by("pk"))
    books[0].R("author").sync()
    with pytest.raises(RelationNotLoaded):
        books[1].author  # noqa: B018


def test_peers_are_not_used_with_queryset_or_refresh(committed_data):
    books = list(Book.objects.order_by("pk"))
    books[0].R("author", queryset=Author.objects.all()).sync()
    books[0].R("author", refresh=True).sync()
    with pytest.raises(RelationNotLoaded):
        books[1].author  # noqa: B018


def test_dead_peers_are_skipped(committed_data):
    books = list(Book.objects.order_by("pk"))
    first = books[0]
    del books
    with queries() as q:
        assert first.R("author").sync().name == "Ada"
    assert len(q) == 1
    assert f"IN ({first.author_id})" in q.captured_queries[0]["sql"]


# --- drivers side by side ------------------------------------------------------------------------------


def test_thread_and_native_execute_agree_on_a_publisher_query(committed_data):
    qs = Publisher.objects.order_by("name")

    async def go() -> Any:
        return await native.execute(Fetch(qs)), await thread.execute(Fetch(qs)), await auto.execute(Fetch(qs))

    on_native, on_thread, on_auto = run(go)
    assert snapshot(on_native) == snapshot(on_thread) == snapshot(on_auto) == snapshot(list(qs))


def test_other_database_alias_runs_natively_too(committed_data):
    Publisher.objects.using("other").create(name="Elsewhere")

    async def go() -> Any:
        rows = await native.execute(Fetch(Publisher.objects.using("other").all()))
        return [(p.name, p._state.db) for p in rows], _native_open("other")

    assert run(go) == ([("Elsewhere", "other")], True)


# --- the hot path: compiled SQL reused per shape -------------------------------------------------------


def test_r_reuses_the_sql_compiled_for_the_same_shape(committed_data, monkeypatch):
    statement._by_shape.clear()
    compiled: list[str | None] = []
    original = statement._compile

    def counting(queryset: Any, connection: Any) -> Any:
        result = original(queryset, connection)
        compiled.append(result.sql)
        return result

    monkeypatch.setattr(statement, "_compile", counting)
    titles = ["B1", "B3", "B4", "B2"]

    async def go() -> Any:
        names = []
        for title in titles:
            book = await Book.objects.aget(title=title)  # alone: no peers
            names.append((await book.R("author")).name)
        return names

    assert run(go) == ["Ada", "Bob", "Cy", "Ada"]  # each with its own key as parameter
    author_selects = [sql for sql in compiled if sql and 'FROM "testapp_author"' in sql]
    assert len(author_selects) == 1  # compiled once, then reused


def test_shapes_differ_by_key_count_and_null_keys_need_no_query(committed_data):
    statement._by_shape.clear()
    editor_key = id(Book.editor)

    async def go() -> Any:
        books = [b async for b in Book.objects.order_by("pk")]
        await books[0].R("editor")  # with its peers: B1 -> Bob, B3 -> Ada, the others NULL
        lone = await Book.objects.aget(title="B1")
        await lone.R("editor")
        return [b.editor.name if b.editor else None for b in books], lone.editor.name

    with queries() as q:
        assert run(go) == (["Bob", None, "Ada", None], "Bob")
    editor_selects = [s["sql"] for s in q.captured_queries if 'FROM "testapp_author"' in s["sql"]]
    assert len(editor_selects) == 2  # NULL keys are not queried at all
    assert sorted(shape[2] for shape in statement._by_shape if shape[0] == editor_key) == [1, 2]


# --- connections and interpreter exit ------------------------------------------------------------------

EXIT_SCRIPT = """
import asyncio, django, os, sys
sys.path.insert(0, {root!r})
os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
django.setup()
from django.core.management import call_command
call_command("migrate", "contenttypes", verbosity=0)
from django.contrib.contenttypes.models import ContentType
from relations.drivers import native
from relations.loaders.tasks import Fetch

async def go():
    return await native.execute(Fetch(ContentType.objects.all()))

loop = asyncio.new_event_loop()  # closed without cancelling its tasks: no guard runs
print(len(loop.run_until_complete(go())) > 0, flush=True)
loop.close()
"""


@pytest.mark.skipif(
    connections["default"].vendor != "sqlite", reason="the aiosqlite worker thread is SQLite's"
)
def test_an_unclosed_native_connection_does_not_hang_interpreter_exit(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, "RELATIONS_TEST_TMP": str(tmp_path), "RELATIONS_TEST_DB": "sqlite"}
    script = EXIT_SCRIPT.format(root=str(Path(__file__).resolve().parent.parent))
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert (done.returncode, done.stdout.strip()) == (0, "True"), done.stderr


def test_each_use_of_a_cached_statement_gets_its_own_objects(committed_data):
    # materialize() patches the statement it is given; two threads materializing the
    # same shape at once must not read each other's rows.
    statement._by_shape.clear()
    book = Book.objects.get(title="B1")
    author_pk = book.author_id

    def task() -> Fetch:
        build = lambda: Author.objects.filter(pk__in=(author_pk,))  # noqa: E731
        return Fetch.by_keys(build, "default", ("test-shape",), (author_pk,), Author._meta.pk)

    first, second, third = (statement.compile_task(task()) for _ in range(3))
    assert second.sql == third.sql == first.sql and second.params == (author_pk,)
    assert len({id(s.compiler) for s in (first, second, third)}) == 3
    assert len({id(s.queryset.query) for s in (first, second, third)}) == 3
    rows = statement.materialize(second, [(author_pk, "Ada", None, None)])
    assert [a.name for a in rows] == ["Ada"]
    assert statement.materialize(third, []) == []  # the second's rows did not leak into the third


def test_peers_are_walked_only_by_a_load_that_needs_a_query(committed_data, monkeypatch):
    from relations.peers import PeerGroup

    walks = []
    original = PeerGroup.live
    monkeypatch.setattr(PeerGroup, "live", lambda self: walks.append(1) or original(self))
    books = list(Book.objects.order_by("pk"))
    with queries() as q:
        names = [b.R("author").sync().name for b in books]  # a loop of R() calls
    assert names == ["Ada", "Ada", "Bob", "Cy"]
    assert len(q) == 1 and len(walks) == 1  # not once per instance: no quadratic loop


def test_every_hop_of_a_path_loads_for_the_peers(committed_data):
    books = list(Book.objects.order_by("pk"))
    with queries() as q:
        books[0].R("author__publisher").sync()
    assert len(q) == 2  # authors of all books, then the publishers of all those authors
    assert [b.author.publisher.name if b.author.publisher else None for b in books] == [
        "Penguin",
        "Penguin",
        "Faber",
        None,
    ]


@override_settings(RELATIONS={"NATIVE_POOL_SIZE": 2})
def test_concurrent_native_queries_use_at_most_the_pool_size(committed_data):
    opened = []

    def receiver(sender: Any, connection: Any, **kwargs: Any) -> None:
        opened.append(connection.alias)

    async def go() -> Any:
        tasks = [native.execute(Fetch(Book.objects.filter(title=t))) for t in ["B1", "B2", "B3", "B4"] * 3]
        return [rows[0].title for rows in await asyncio.gather(*tasks)]

    connection_created.connect(receiver)
    try:
        titles = run(go)
    finally:
        connection_created.disconnect(receiver)
    assert titles == ["B1", "B2", "B3", "B4"] * 3
    assert opened == ["default", "default"]  # concurrent: a second connection, and no more


@pytest.mark.asyncio
async def test_concurrent_r_calls_coalesce_in_tasks_that_never_touched_the_connection(
    committed_data, settings, caplog
):
    # Under asyncio.run() or an ASGI server (no outer sync thread) every task has its own
    # Django connection object; that must not keep the calls apart.
    settings.DEBUG = True  # every native query is logged by django.db.backends
    settings.RELATIONS = {"PEERS": False}
    books = await sync_to_async(lambda: list(Book.objects.order_by("pk")))()
    try:
        with caplog.at_level(logging.DEBUG, logger="django.db.backends"):
            authors = await asyncio.gather(*(b.R("author") for b in books))
    finally:
        await native.aclose()
        # asgiref's one sync thread opened a Django connection for the list above.
        await sync_to_async(connections.close_all)()
    selects = [r for r in caplog.records if getattr(r, "sql", "").startswith('SELECT "testapp_author"')]
    assert [a.name for a in authors] == ["Ada", "Ada", "Bob", "Cy"]
    assert len(selects) == 1
