"""Policy modes and their scopes: settings, per-model settings, ``with mode()``.

Which mode is in force is observed through behaviour only: a read that raises
``RelationNotLoaded`` without a query (raise), one that loads with Django's
single query (lazy), one that also warns and logs (warn).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import sys
import threading
import warnings
from typing import Any

import django
import pytest
from asgiref.sync import sync_to_async
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection, models
from django.test import override_settings

from relations import RelationLazyLoadWarning, RelationNotLoaded, mode, set_mode
from relations.policy import current_mode, display
from relations.policy.interactive import interactive
from relations.report import capture
from tests.conftest import queries, run
from tests.matrix import MODES, mx_fixture  # noqa: F401 - the mx fixture
from tests.testapp.models import Author, Book, BookProxy, Profile, Review


def book(mx: dict[str, Any], index: int = 0) -> Book:
    return Book.objects.get(pk=mx["books"][index].pk)


def _reader(target: Any) -> Any:
    """A callable read: ``target`` itself, or ``target.author`` for an instance."""
    return target if callable(target) else (lambda: target.author)


def assert_raises(target: Any) -> RelationNotLoaded:
    """Reading raises RelationNotLoaded before any query."""
    read = _reader(target)
    with queries() as q, pytest.raises(RelationNotLoaded) as exc:
        read()
    assert len(q) == 0
    return exc.value


def assert_loads(target: Any, expected: Any) -> None:
    """Reading loads ``expected`` with Django's single query."""
    read = _reader(target)
    with queries() as q:
        assert read() == expected
    assert len(q) == 1


# --------------------------------------------------------------------------
# RELATIONS["MODE"] and RELATIONS["MODELS"]


@pytest.mark.parametrize("name", MODES)
def test_settings_mode(mx, name):
    ada = mx["authors"][0]
    b = book(mx)
    with override_settings(RELATIONS={"MODE": name}):
        if name == "raise":
            assert 'RELATIONS mode "raise"' in str(assert_raises(lambda: b.author))
        elif name == "warn":
            with pytest.warns(RelationLazyLoadWarning):
                assert_loads(lambda: b.author, ada)
        else:  # lazy, and n_plus_one for an instance fetched alone
            assert_loads(lambda: b.author, ada)


def test_settings_without_mode_key_is_raise(mx):
    b = book(mx)
    with override_settings(RELATIONS={"MODELS": {}}):
        assert_raises(lambda: b.author)
    with override_settings(RELATIONS={}):
        assert_raises(lambda: b.author)


def test_per_model_mode_applies_to_that_model_only(mx):
    ada = mx["authors"][0]
    with override_settings(RELATIONS={"MODE": "raise", "MODELS": {"testapp.Book": "lazy"}}):
        b = book(mx)
        assert_loads(lambda: b.author, ada)  # Book: lazy
        assert_loads(lambda: sorted(t.pk for t in b.tags.all()), sorted(t.pk for t in mx["tags"][:2]))
        author = Author.objects.get(pk=ada.pk)
        assert_raises(lambda: author.publisher)  # Author: still raise
        assert_raises(lambda: list(author.books.all()))
        review = Review.objects.get(pk=mx["reviews"][0].pk)
        assert_raises(lambda: review.book)


def test_per_model_mode_overrides_the_global_mode(mx):
    with override_settings(RELATIONS={"MODE": "lazy", "MODELS": {"testapp.Book": "raise"}}):
        b = book(mx)
        assert_raises(lambda: b.author)
        author = Author.objects.get(pk=mx["authors"][0].pk)
        assert_loads(lambda: author.publisher, mx["publishers"][0])


def test_per_model_mode_of_the_concrete_model_applies_to_its_proxy(mx):
    pk = mx["books"][0].pk
    with override_settings(RELATIONS={"MODELS": {"testapp.Book": "lazy"}}):
        proxy = BookProxy.objects.get(pk=pk)
        assert_loads(lambda: proxy.author, mx["authors"][0])
    with override_settings(RELATIONS={"MODE": "lazy", "MODELS": {"testapp.BookProxy": "raise"}}):
        proxy = BookProxy.objects.get(pk=pk)
        assert_raises(lambda: proxy.author)
        b = book(mx)
        assert_loads(lambda: b.author, mx["authors"][0])  # the concrete model keeps lazy


def test_per_model_mode_for_a_contrib_model(mx):
    from django.contrib.auth.models import User

    with override_settings(RELATIONS={"MODELS": {"auth.User": "lazy"}}):
        user = User.objects.get(pk=mx["users"][0].pk)
        with queries() as q:
            assert len(user.groups.all()) == 2
        assert len(q) == 1
        assert_raises(book(mx))


def test_settings_change_is_seen_without_restart(mx):
    b = book(mx)
    assert_raises(lambda: b.author)
    with override_settings(RELATIONS={"MODE": "lazy"}):
        assert_loads(book(mx), mx["authors"][0])
    assert_raises(book(mx))


# --------------------------------------------------------------------------
# with mode(...)


def test_mode_context_overrides_global_and_per_model_settings(mx):
    ada = mx["authors"][0]
    with override_settings(RELATIONS={"MODE": "raise", "MODELS": {"testapp.Book": "raise"}}):
        with mode("lazy"):
            assert_loads(book(mx), ada)
            author = Author.objects.get(pk=ada.pk)
            assert_loads(lambda: author.publisher, mx["publishers"][0])
        assert_raises(book(mx))
    with override_settings(RELATIONS={"MODE": "lazy", "MODELS": {"testapp.Book": "lazy"}}):
        with mode("raise"):
            assert_raises(book(mx))
            author = Author.objects.get(pk=ada.pk)
            assert_raises(lambda: author.publisher)
        assert_loads(book(mx), ada)


def test_mode_nests_and_restores(mx):
    ada = mx["authors"][0]
    with mode("lazy"):
        assert_loads(book(mx), ada)
        with mode("raise"):
            assert_raises(book(mx))
            with mode("warn"), pytest.warns(RelationLazyLoadWarning):
                assert_loads(book(mx), ada)
            assert_raises(book(mx))
        assert_loads(book(mx), ada)
    assert_raises(book(mx))


def test_mode_restores_after_an_exception(mx):
    with pytest.raises(KeyError), mode("lazy"):
        raise KeyError("boom")
    assert_raises(book(mx))


def test_mode_as_decorator(mx):
    @mode("lazy")
    def read(b: Book) -> Any:
        return b.author

    b = book(mx)
    assert_loads(lambda: read(b), mx["authors"][0])
    assert_raises(book(mx))


def test_n_plus_one_under_mode_context(mx):
    with mode("n_plus_one"):
        books = list(Book.objects.order_by("pk"))
        assert "multi-row result" in str(assert_raises(lambda: books[0].author))
        assert_loads(book(mx), mx["authors"][0])


@pytest.mark.parametrize("bad", ["bogus", "LAZY", "", None, 1])
def test_invalid_mode_name_is_a_value_error(bad):
    with pytest.raises(ValueError) as exc, mode(bad):
        pass
    assert str(exc.value) == (
        f"Unknown relations mode {bad!r}; expected one of: raise, warn, lazy, n_plus_one, record."
    )


def test_invalid_mode_name_leaves_the_mode_unchanged(mx):
    with mode("lazy"):
        with pytest.raises(ValueError), mode("bogus"):
            pass
        assert_loads(book(mx), mx["authors"][0])


INVALID_SETTINGS = {
    "mode": (
        {"MODE": "bogus"},
        "RELATIONS[\"MODE\"] is 'bogus'; expected one of: raise, warn, lazy, n_plus_one, record.",
    ),
    "mode_case": ({"MODE": "Lazy"}, "RELATIONS[\"MODE\"] is 'Lazy'"),
    "not_a_dict": ("lazy", "RELATIONS must be a dict, got str."),
    "unknown_key": ({"MOD": "lazy"}, "Unknown RELATIONS keys: MOD."),
    "models_not_a_dict": ({"MODELS": ["testapp.Book"]}, 'RELATIONS["MODELS"] must map'),
    "model_label": ({"MODELS": {"Book": "lazy"}}, "RELATIONS[\"MODELS\"] key 'Book' is not"),
    "model_mode": ({"MODELS": {"testapp.Book": "bogus"}}, "RELATIONS[\"MODELS\"]['testapp.Book'] is 'bogus'"),
    "async_driver": ({"ASYNC_DRIVER": "bogus"}, "RELATIONS[\"ASYNC_DRIVER\"] is 'bogus'"),
    "strict_framework": ({"STRICT_FRAMEWORK": "yes"}, 'RELATIONS["STRICT_FRAMEWORK"] must be True or False.'),
}


@pytest.mark.parametrize(("value", "message"), INVALID_SETTINGS.values(), ids=INVALID_SETTINGS.keys())
def test_invalid_settings_are_improperly_configured(mx, value, message):
    b = book(mx)
    with override_settings(RELATIONS=value):
        with queries() as q, pytest.raises(ImproperlyConfigured) as exc:
            b.author  # noqa: B018
        assert len(q) == 0
        assert message in str(exc.value)
        assert not isinstance(exc.value, RelationNotLoaded)
    assert_raises(lambda: b.author)  # valid again once the setting is restored


# --------------------------------------------------------------------------
# warn: a RelationLazyLoadWarning at the user's line, and a log record


def test_warn_mode_points_the_warning_and_the_log_at_the_users_line(mx, caplog):
    b = book(mx)
    with (
        mode("warn"),
        caplog.at_level(logging.WARNING, logger="relations"),
        queries() as q,
        pytest.warns(RelationLazyLoadWarning) as warned,
    ):
        author, line = b.author, inspect.currentframe().f_lineno
    assert author == mx["authors"][0]
    assert len(q) == 1
    assert [(w.filename, w.lineno) for w in warned] == [(__file__, line)]
    [record] = [r for r in caplog.records if r.name == "relations"]
    assert record.levelno == logging.WARNING
    assert record.getMessage() == f"Lazy load of Book.author on Book pk={b.pk!r} at {__file__}:{line}"
    assert record.relation == "testapp.Book.author"
    assert record.location == f"{__file__}:{line}"
    # Loaded now: no second warning, no query.
    with mode("warn"), queries() as q, warnings.catch_warnings():
        warnings.simplefilter("error")
        assert b.author == mx["authors"][0]
    assert len(q) == 0


def test_warn_mode_on_a_to_many_relation(mx, caplog):
    author = Author.objects.get(pk=mx["authors"][0].pk)
    with (
        mode("warn"),
        caplog.at_level(logging.WARNING, logger="relations"),
        queries() as q,
        pytest.warns(RelationLazyLoadWarning) as warned,
    ):
        titles = sorted(b.title for b in author.books.all())
    assert titles == ["B1", "B2"]
    assert len(q) == 1
    assert len(warned) == 1
    assert warned[0].filename == __file__
    [record] = [r for r in caplog.records if r.name == "relations"]
    assert record.getMessage().startswith(
        f"Lazy load of Author.books on Author pk={author.pk!r} at {__file__}:"
    )


def test_warn_mode_warns_each_time_a_relation_is_lazily_loaded(mx, caplog):
    with (
        mode("warn"),
        caplog.at_level(logging.WARNING, logger="relations"),
        pytest.warns(RelationLazyLoadWarning) as warned,
    ):
        for b in Book.objects.order_by("pk"):
            b.author  # noqa: B018
    assert len(warned) == 4
    assert len([r for r in caplog.records if r.name == "relations"]) == 4


# --------------------------------------------------------------------------
# contextvars: a mode is private to its asyncio task and to its thread


def test_mode_is_private_to_an_asyncio_task(mx):
    b1, b2, b3 = (book(mx, i) for i in range(3))

    async def main() -> Any:
        entered = asyncio.Event()
        checked = asyncio.Event()

        async def lazy_task() -> tuple[Any, Any]:
            with mode("lazy"):
                entered.set()
                first = await sync_to_async(lambda: b1.author.name)()
                await checked.wait()  # the other task has read in the meantime
                second = await sync_to_async(lambda: b3.author.name)()
            return first, second

        async def strict_task() -> str:
            await entered.wait()

            def read() -> str:
                try:
                    b2.author  # noqa: B018
                except RelationNotLoaded:
                    return "raised"
                return "loaded"

            try:
                return await sync_to_async(read)()
            finally:
                checked.set()

        return await asyncio.gather(lazy_task(), strict_task())

    with queries() as q:
        (first, second), strict = run(main)
    assert (first, second, strict) == ("Ada", "Bob", "raised")
    assert len(q) == 2


def test_mode_set_in_a_task_does_not_leak_to_the_caller(mx):
    async def main() -> None:
        async def inner() -> None:
            with mode("lazy"):
                await asyncio.sleep(0)

        task = asyncio.ensure_future(inner())
        await asyncio.sleep(0)  # the task is inside its mode() block now
        await sync_to_async(lambda: assert_raises(book(mx)))()
        await task

    run(main)


def test_mode_follows_sync_to_async_into_the_worker(mx):
    async def main() -> str:
        with mode("lazy"):
            return await sync_to_async(lambda: book(mx).author.name)()

    assert run(main) == "Ada"


@pytest.mark.django_db(transaction=True)
def test_mode_is_private_to_a_thread(mx):
    pk = mx["books"][0].pk
    barrier = threading.Barrier(2, timeout=10)
    results: dict[str, Any] = {}

    def lazy_thread() -> None:
        try:
            with mode("lazy"):
                barrier.wait()  # both threads are running; this one is in lazy
                results["lazy"] = Book.objects.get(pk=pk).author.name
                barrier.wait()
        except Exception as exc:  # pragma: no cover - reported below
            results["lazy"] = exc
        finally:
            connection.close()

    def strict_thread() -> None:
        try:
            barrier.wait()
            b = Book.objects.get(pk=pk)
            try:
                b.author  # noqa: B018
            except RelationNotLoaded:
                results["strict"] = "raised"
            else:
                results["strict"] = "loaded"
            barrier.wait()
        except Exception as exc:  # pragma: no cover - reported below
            results["strict"] = exc
        finally:
            connection.close()

    with mode("lazy"):  # the main thread's mode is not inherited by new threads either
        threads = [threading.Thread(target=lazy_thread), threading.Thread(target=strict_thread)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
    assert results == {"lazy": "Ada", "strict": "raised"}


# --------------------------------------------------------------------------
# Django 6.1 fetch modes in lazy mode

needs_fetch_modes = pytest.mark.skipif(
    django.VERSION < (6, 1), reason="QuerySet.fetch_mode() and FETCH_PEERS/FETCH_RAISE are new in Django 6.1"
)


@needs_fetch_modes
def test_lazy_mode_respects_fetch_peers(mx):
    with mode("lazy"):
        books = list(Book.objects.fetch_mode(models.FETCH_PEERS).order_by("pk"))
        with queries() as q:
            names = [b.author.name for b in books]
        assert names == ["Ada", "Ada", "Bob", "Cy"]
        assert len(q) == 1


@needs_fetch_modes
def test_warn_mode_respects_fetch_peers(mx):
    with mode("warn"):
        books = list(Book.objects.fetch_mode(models.FETCH_PEERS).order_by("pk"))
        with queries() as q, pytest.warns(RelationLazyLoadWarning) as warned:
            names = [b.author.name for b in books]
        assert names == ["Ada", "Ada", "Bob", "Cy"]
        assert len(q) == 1
        assert len(warned) == 1  # the peers were loaded by the first read


@needs_fetch_modes
def test_raise_mode_still_raises_under_fetch_peers(mx):
    books = list(Book.objects.fetch_mode(models.FETCH_PEERS).order_by("pk"))
    assert_raises(lambda: books[0].author)


@needs_fetch_modes
def test_lazy_mode_respects_fetch_raise(mx):
    from django.core.exceptions import FieldFetchBlocked

    with mode("lazy"):
        b = Book.objects.fetch_mode(models.FETCH_RAISE).get(pk=mx["books"][0].pk)
        with queries() as q, pytest.raises(FieldFetchBlocked) as exc:
            b.author  # noqa: B018
        assert len(q) == 0
        assert type(exc.value) is FieldFetchBlocked  # Django's own, not RelationNotLoaded
        assert str(exc.value) == "Fetching of Book.author blocked."


# --------------------------------------------------------------------------
# Plain calls: set_mode() and mode(...).__enter__() for a session


@pytest.fixture
def session_mode() -> Any:
    """set_mode(), reset after the test."""
    yield set_mode
    set_mode(None)


def test_set_mode_holds_until_changed(mx, session_mode):
    session_mode("lazy")
    assert_loads(book(mx, 0), Author.objects.get(name="Ada"))
    assert_loads(book(mx, 2), Author.objects.get(name="Bob"))
    session_mode(None)
    assert_raises(book(mx))


def test_set_mode_is_beaten_by_mode_and_beats_the_settings(mx, session_mode):
    session_mode("lazy")
    with override_settings(RELATIONS={"MODE": "raise", "MODELS": {"testapp.Book": "raise"}}):
        assert_loads(book(mx), Author.objects.get(name="Ada"))
        with mode("raise"):
            assert_raises(book(mx))


def test_set_mode_with_a_bad_name_is_a_value_error_and_changes_nothing(mx, session_mode):
    session_mode("lazy")
    with pytest.raises(ValueError, match="Unknown relations mode 'lazzy'; expected one of: raise, warn"):
        session_mode("lazzy")
    assert_loads(book(mx), Author.objects.get(name="Ada"))


@pytest.mark.django_db(transaction=True)
def test_set_mode_is_private_to_its_thread(mx, session_mode):
    pk = mx["books"][0].pk
    results: dict[str, Any] = {}

    def other_thread() -> None:
        try:
            Book.objects.get(pk=pk).author  # noqa: B018
            results["other"] = "loaded"
        except RelationNotLoaded:
            results["other"] = "raised"
        finally:
            connection.close()

    session_mode("lazy")
    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join(timeout=30)
    assert results == {"other": "raised"}
    assert Book.objects.get(pk=pk).author.name == "Ada"


def test_set_mode_holds_across_asyncio_tasks_of_its_thread(mx, session_mode):
    """A notebook's cells run as tasks of one loop; a plain thread value spans them."""

    async def cell(code: Any) -> Any:
        return code()

    async def main() -> Any:
        await asyncio.ensure_future(cell(lambda: session_mode("lazy")))
        return await asyncio.ensure_future(cell(lambda: current_mode(Book).name))

    assert run(main) == "lazy"


def test_mode_enter_without_with_keeps_the_mode_in_the_context(mx):
    scope = mode("lazy")
    scope.__enter__()
    try:
        assert_loads(book(mx), Author.objects.get(name="Ada"))
    finally:
        scope.__exit__(None, None, None)
    assert_raises(book(mx))


def test_mode_as_decorator_of_a_coroutine_function(mx):
    @mode("lazy")
    async def read() -> str:
        return await sync_to_async(lambda: book(mx).author.name)()

    assert run(read) == "Ada"
    assert_raises(book(mx))


# --------------------------------------------------------------------------
# RELATIONS["SHELL_MODE"]: interactive sessions


def test_shell_mode_applies_at_the_repl_prompt(mx, monkeypatch):
    monkeypatch.setattr(sys, "ps1", ">>> ", raising=False)
    assert_loads(book(mx), Author.objects.get(name="Ada"))
    with override_settings(RELATIONS={"SHELL_MODE": "raise"}):
        assert_raises(book(mx))
    with (
        override_settings(RELATIONS={"SHELL_MODE": None, "MODE": "warn"}),
        pytest.warns(RelationLazyLoadWarning),
    ):
        book(mx).author  # noqa: B018


def test_shell_mode_applies_in_the_shell_command(mx, capsys):
    pk = mx["books"][0].pk
    call_command(
        "shell", command=f"from tests.testapp.models import Book; print(Book.objects.get(pk={pk}).author)"
    )
    assert capsys.readouterr().out.splitlines()[-1] == "Ada"  # after Django's auto-import line


def test_shell_mode_does_not_apply_elsewhere(mx):
    """A test run is not interactive (the other commands are checked in test_first_hour)."""
    assert not interactive()
    assert_raises(book(mx))


# --------------------------------------------------------------------------
# Display: str/repr/format of a model instance (relations.policy.display)


@pytest.fixture
def shown(monkeypatch: pytest.MonkeyPatch) -> None:
    """Profile and Author get a ``__str__`` that reads a relation, wrapped like at start-up."""
    monkeypatch.setattr(Profile, "__str__", lambda self: f"{self.bio} of {self.author.name}", raising=False)
    monkeypatch.setattr(
        Author, "__str__", lambda self: f"{self.name}: " + ", ".join(b.title for b in self.books.all())
    )
    display.install(Profile)
    display.install(Author)


def test_display_loads_in_sync_code_and_is_reported(mx, shown):
    profile = Profile.objects.get(pk=mx["profiles"][0].pk)
    with capture() as recorder, queries() as q:
        assert str(profile) == f"{profile.bio} of {profile.author.name}"
    assert len(q) == 1
    assert [s.relation for s in recorder.report()] == ["testapp.Profile.author"]
    author = Author.objects.get(name="Bob")
    with queries() as q:
        assert repr(author) == "<Author: Bob: B3>"
        assert f"{author:}" == "Bob: B3"  # loaded once: no second query for format()
    assert len(q) == 2  # Django's reverse FK set is not cached by a plain .all()


def test_display_inside_an_event_loop_falls_back_without_a_query(mx, shown, caplog):
    profile = Profile.objects.get(pk=mx["profiles"][0].pk)
    author = Author.objects.get(name="Bob")

    async def main() -> list[str]:
        logging.getLogger("shop").warning("saved %s and %r", profile, author)
        return [str(profile), repr(profile), f"{profile}", str(author)]

    with queries() as q:
        shown_values = run(main)
    assert len(q) == 0
    assert shown_values == [
        f"Profile object ({profile.pk})",
        f"<Profile: Profile object ({profile.pk})>",
        f"Profile object ({profile.pk})",
        f"Author object ({author.pk})",
    ]
    # caplog.text is formatted when the record is emitted, inside the loop:
    assert f"saved Profile object ({profile.pk}) and <Author: Author object ({author.pk})>" in caplog.text


def test_display_of_loaded_relations_is_unchanged_in_an_event_loop(mx, shown):
    profile = Profile.objects.select_related("author").get(pk=mx["profiles"][0].pk)

    async def main() -> str:
        return str(profile)

    assert run(main) == f"{profile.bio} of Ada"


def test_display_wraps_only_methods_that_are_not_djangos(mx):
    assert Profile.__str__ is models.Model.__str__
    assert Book.__repr__ is models.Model.__repr__
    assert getattr(Book.__str__, "_relations_display", False)
    assert Book.__str__.__wrapped__(book(mx)) == "B1"  # type: ignore[attr-defined]
