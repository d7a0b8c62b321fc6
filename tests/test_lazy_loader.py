"""RELATIONS["LAZY_LOADER"] = "relations": lazy reads served by the loaders, exactly as Django's.

Every case reads a relation on a fresh instance twice over, once with Django's own
lazy load ("django") and once served by the library's loaders ("relations", on the
sync driver and through async_to_sync on the thread driver), and compares what the
read returned or raised, the queries it ran, the instance's state afterwards, and
whether a second read queries again.  A counter on ``serve()`` proves the loaders
really served the "relations" reads.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import django
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connections
from django.test.utils import CaptureQueriesContext, override_settings

from relations.conf import parse
from relations.policy import serve
from tests.conftest import queries
from tests.loader_helpers import snapshot, warm_contenttypes
from tests.test_api import MapRouter, other_data  # noqa: F401 (a fixture)
from tests.testapp.models import Author, Book, Comment, Place, Profile, Restaurant

DRIVERS = ("sync", "thread")


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the relations ``serve()`` served, in order."""
    done: list[str] = []
    original = serve.serve

    def counting(info: Any, instance: Any) -> bool:
        result = original(info, instance)
        if result:
            done.append(info.name)
        return result

    monkeypatch.setattr(serve, "serve", counting)
    return done


@pytest.fixture(params=DRIVERS)
def driver(request: pytest.FixtureRequest) -> Iterator[str]:
    previous = serve.use_driver(request.param)
    yield request.param
    serve.use_driver(previous)


def observe(loader: str, make: Callable[[], Any], name: str, *, peers: bool = False) -> dict[str, Any]:
    """Read ``name`` on ``make()`` with ``LAZY_LOADER = loader``: what a user can see."""
    with override_settings(RELATIONS={"MODE": "lazy", "LAZY_LOADER": loader, "PEERS": peers}):
        instance = make()
        with queries() as first:
            try:
                value, error = getattr(instance, name), None
            except Exception as exc:  # what Django raised, compared below
                value, error = None, (type(exc).__qualname__, str(exc))
        with queries() as second, contextlib.suppress(Exception):
            getattr(instance, name)
    return {
        "value": snapshot(value),
        "error": error,
        "queries": len(first),
        "queries again": len(second),
        "instance": snapshot(instance),
        "dict": sorted(k for k in instance.__dict__ if k != "_state"),
    }


def _get(model: Any, **lookup: Any) -> Callable[[], Any]:
    return lambda: model._default_manager.get(**lookup)


CASES: dict[str, tuple[Callable[[], Any], str]] = {
    "forward FK": (_get(Book, title="B1"), "author"),
    "forward FK to self": (_get(Author, name="Bob"), "mentor"),
    "forward FK, deferred key column": (lambda: Book.objects.only("title").get(title="B1"), "author"),
    "forward FK, key as a string": (
        lambda: Book(title="new", author_id=str(Author.objects.get(name="Ada").pk)),
        "author",
    ),
    "forward FK inherited by an MTI child": (_get(Restaurant, name="Luigi's"), "owner"),
    "forward one-to-one": (_get(Profile, bio="ada bio"), "author"),
    "reverse one-to-one": (_get(Author, name="Ada"), "profile"),
    "reverse one-to-one, no row": (_get(Author, name="Bob"), "profile"),
    "MTI parent link, parent fields deferred": (
        lambda: Restaurant.objects.defer("name").get(serves_pizza=True),
        "place_ptr",
    ),
    "MTI child link": (_get(Place, name="Luigi's"), "restaurant"),
    "MTI child link, no row": (_get(Place, name="Park"), "restaurant"),
    "generic FK to a book": (_get(Comment, text="on b1"), "target"),
    "generic FK to an author": (_get(Comment, text="on bob"), "target"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_served_read_is_djangos_read(data, driver, served, case):
    warm_contenttypes()
    make, name = CASES[case]
    theirs = observe("django", make, name)
    assert served == []
    ours = observe("relations", make, name)
    assert served == [name]  # the loaders served it, once: the second read was cached
    assert ours == theirs
    assert ours["queries again"] == 0


def test_a_deferred_null_key_is_left_to_django_once_loaded(data, driver, served):
    """Django loads the deferred column; then, being NULL, it needs no loader."""
    make = lambda: Book.objects.only("title").get(title="B2")  # noqa: E731
    theirs = observe("django", make, "editor")
    assert observe("relations", make, "editor") == theirs
    assert theirs["queries"] == 1 and theirs["value"] is None
    assert served == []


@pytest.fixture
def dangling(data: dict[str, Any]) -> Iterator[Book]:
    """B1 with keys that point at no row; put back before the test's constraint check."""
    b1 = data["books"][0]
    Book.objects.filter(pk=b1.pk).update(author_id=999_999, editor_id=999_998)
    Comment.objects.filter(text="on b1").update(object_id=999_997)
    yield b1
    Book.objects.filter(pk=b1.pk).update(author_id=b1.author_id, editor_id=b1.editor_id)


@pytest.mark.parametrize(
    ("model", "lookup", "name"),
    [
        (Book, {"title": "B1"}, "author"),
        (Book, {"title": "B1"}, "editor"),
        (Comment, {"text": "on b1"}, "target"),
    ],
    ids=["non-null FK", "nullable FK", "generic FK"],
)
def test_a_key_without_its_row_behaves_as_in_django(dangling, driver, served, model, lookup, name):
    """Django's get() raises the target's DoesNotExist and caches nothing (a GFK gives None)."""
    warm_contenttypes()
    theirs = observe("django", _get(model, **lookup), name)
    ours = observe("relations", _get(model, **lookup), name)
    assert ours == theirs
    if model is Book:
        assert theirs["error"] == ("Author.DoesNotExist", "Author matching query does not exist.")
        assert theirs["queries again"] == 1  # nothing cached: Django queries again
    else:
        assert theirs["value"] is None and theirs["queries again"] == 0
    assert served == ([name] if model is Comment else [])  # raised reads count as not served


def test_null_key_needs_no_loader(data, served):
    theirs = observe("django", _get(Book, title="B2"), "editor")
    ours = observe("relations", _get(Book, title="B2"), "editor")
    assert ours == theirs and ours["queries"] == 0
    assert served == []


@pytest.mark.django_db(databases=["default", "other"])
def test_routers_see_the_instance_hint(other_data, driver, served):  # noqa: F811 (fixture)
    def counts(loader: str) -> tuple[Any, int, int]:
        with CaptureQueriesContext(connections["other"]) as on_other:
            seen = observe(loader, _get(Book, title="B1"), "author")
        return seen, seen["queries"], len(on_other)

    with override_settings(DATABASE_ROUTERS=[MapRouter({Author: "other"})]):
        theirs, ours = counts("django"), counts("relations")
    assert ours == theirs
    assert theirs[0]["value"]["db"] == "other" and theirs[2] == 1
    assert served == ["author"]


@pytest.mark.parametrize("mode", ["warn", "record", "n_plus_one"])
def test_every_mode_that_lets_a_read_run_serves_it(data, served, mode):
    with override_settings(RELATIONS={"MODE": mode, "LAZY_LOADER": "relations", "PEERS": False}):
        book = Book.objects.get(title="B1")  # a single-row result: n_plus_one lets it load
        with pytest.warns() if mode == "warn" else _nothing():
            assert book.author.name == "Ada"
    assert served == ["author"]


class _nothing:  # noqa: N801 - reads like the pytest.warns() it stands beside
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        return None


def test_raise_mode_still_raises(data, served):
    from relations import RelationNotLoaded

    with override_settings(RELATIONS={"MODE": "raise", "LAZY_LOADER": "relations"}):
        book = Book.objects.get(title="B1")
        with queries() as ran, pytest.raises(RelationNotLoaded):
            book.author  # noqa: B018
    assert len(ran) == 0 and served == []


def test_with_peers_one_query_serves_the_whole_result(data, served):
    """The intended difference: PEERS on (the default), the peers load together."""
    with override_settings(RELATIONS={"MODE": "lazy", "LAZY_LOADER": "relations", "PEERS": True}):
        books = list(Book.objects.order_by("title"))
        with queries() as ran:
            names = [b.author.name for b in books]
    assert names == ["Ada", "Ada", "Bob", "Cy"]
    assert len(ran) == 1 and served == ["author"]


def test_to_many_reads_stay_djangos(data, served):
    """Django caches nothing for .all(): a later write elsewhere is seen, as in Django."""
    with override_settings(RELATIONS={"MODE": "lazy", "LAZY_LOADER": "relations", "PEERS": True}):
        ada = Author.objects.get(name="Ada")
        with queries() as ran:
            assert [b.title for b in ada.books.all()] == ["B1", "B2"]
        Book.objects.create(title="B5", author=ada)
        assert sorted(b.title for b in ada.books.all()) == ["B1", "B2", "B5"]
        assert sorted(t.name for t in Book.objects.get(title="B1").tags.all()) == ["poetry", "sf"]
    assert len(ran) == 1 and served == []
    assert "_prefetched_objects_cache" not in ada.__dict__


@pytest.mark.skipif(django.VERSION < (6, 1), reason="fetch modes are new in Django 6.1")
@pytest.mark.parametrize("fetch_mode", ["FETCH_PEERS", "FETCH_RAISE"])
def test_other_fetch_modes_are_left_to_django(data, served, fetch_mode):
    from django.db import models

    def make() -> Any:
        return Book.objects.fetch_mode(getattr(models, fetch_mode)).get(title="B1")

    assert observe("relations", make, "author") == observe("django", make, "author")
    assert served == []


def test_historical_models_are_left_to_django(data, served):
    from django.db.migrations.state import ProjectState

    apps = ProjectState.from_apps(django.apps.apps).apps
    historical_book = apps.get_model("testapp", "Book")
    with override_settings(RELATIONS={"MODE": "lazy", "LAZY_LOADER": "relations"}):
        assert historical_book.objects.get(title="B1").author.name == "Ada"
    assert served == []


@pytest.mark.parametrize("value", ["Relations", "", None, 1])
def test_a_bad_setting_is_a_clear_error(value):
    expected = r'RELATIONS\["LAZY_LOADER"\] is .*; expected one of: django, relations'
    with pytest.raises(ImproperlyConfigured, match=expected):
        parse({"LAZY_LOADER": value})


def test_the_setting_and_its_default():
    assert parse({"LAZY_LOADER": "relations"}).lazy_loader == "relations"
    assert parse({}).lazy_loader == "django"


def test_use_driver_rejects_unknown_names():
    with pytest.raises(ValueError, match="Unknown driver 'native'"):
        serve.use_driver("native")


def test_the_thread_driver_runs_the_served_queries(data, monkeypatch):
    """Through async_to_sync, on asgiref's thread: still this thread's connection."""
    from relations import drivers

    ran: list[str] = []
    original = drivers.ASYNC_DRIVERS["thread"]

    async def execute(task: Any) -> Any:
        ran.append(task.queryset.model.__name__)
        return await original(task)

    monkeypatch.setitem(drivers.ASYNC_DRIVERS, "thread", execute)
    previous = serve.use_driver("thread")
    try:
        with override_settings(RELATIONS={"MODE": "lazy", "LAZY_LOADER": "relations", "PEERS": False}):
            book = Book.objects.get(title="B1")
            with queries() as seen:  # counted on this thread's connection: same transaction
                assert book.author.name == "Ada"
    finally:
        serve.use_driver(previous)
    assert ran == ["Author"] and len(seen) == 1
