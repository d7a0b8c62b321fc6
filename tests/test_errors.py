"""RelationNotLoaded and UnknownRelation: exact wording, attributes, classes, pickling.

The expected messages are written out here, from the kind tables in
``tests/matrix.py``, not produced by the library's own formatting code.
"""

from __future__ import annotations

import copy
import os
import pickle
import traceback
from typing import Any

import django
import pytest
from django.core import exceptions as django_exceptions
from django.core.exceptions import FieldDoesNotExist, FieldError
from django.test import override_settings

from relations import (
    R,
    RelationLazyLoadWarning,
    RelationNotLoaded,
    UnknownRelation,
    aprefetch,
    mode,
    prefetch,
)
from tests.conftest import queries, run
from tests.matrix import CASES, Case, cases, mx_fixture  # noqa: F401 - the mx fixture
from tests.testapp.models import Author, Book, Comment

RAISE = 'RELATIONS mode "raise"'
EVENT_LOOP = "inside a running event loop nothing loads implicitly"
N_PLUS_ONE = 'RELATIONS mode "n_plus_one": this instance came from a multi-row result'

BOOK_RELATIONS = "author, chapters, comments, editor, reviews, tags"
AUTHOR_RELATIONS = (
    "books, clubs, edited_books, membership_set, mentees, mentor, places, profile, publisher, review_created"
)


def expected_message(case: Case, instance: Any, reason: str) -> str:
    """The documented wording of RelationNotLoaded for ``case`` on ``instance``.

    Inside an event loop (``reason`` is EVENT_LOOP) the fixes are the async forms,
    elsewhere the sync ones.
    """
    model, name, var = case.model.__name__, case.name, case.var
    where = f"an unsaved {model}" if instance.pk is None else f"{model} pk={instance.pk!r}"
    lines = [
        f"{model}.{name} is not loaded on {where}: reading it would run a hidden query, "
        f"which is blocked ({reason}).",
        f"{model}.{name} is {case.describe}. Load it explicitly:",
        f'  - in the queryset that fetches {model} rows: .{case.fix}("{name}")',
    ]
    if reason == EVENT_LOOP:
        lines += [
            f'  - on this instance: await {var}.R("{name}")',
            f'  - on a list of instances: await aprefetch({var}_list, "{name}")',
        ]
        if case.many:
            lines.append(
                f"Building a new query stays allowed: {var}.{name}.filter(...), "
                f"`async for x in {var}.{name}.all()`, `await {var}.{name}.acount()`."
            )
    else:
        lines += [
            f'  - on this instance: {var}.R("{name}").sync()',
            f'  - on a list of instances: prefetch({var}_list, "{name}")',
        ]
        if case.many:
            lines.append(f"Building a new query stays allowed: {var}.{name}.filter(...).")
    return "\n".join(lines)


def raised(case: Case, instance: Any) -> RelationNotLoaded:
    with queries() as q, pytest.raises(RelationNotLoaded) as exc:
        case.read(instance)
    assert len(q) == 0
    return exc.value


# --------------------------------------------------------------------------
# RelationNotLoaded, word for word


def test_forward_fk_message_word_for_word(mx):
    book = Book.objects.get(pk=mx["books"][0].pk)
    with pytest.raises(RelationNotLoaded) as exc:
        book.author  # noqa: B018
    pk = book.pk
    assert str(exc.value) == (
        f'Book.author is not loaded on Book pk={pk}: reading it would run a hidden query, which is blocked (RELATIONS mode "raise").\n'  # noqa: E501
        "Book.author is a foreign key to Author. Load it explicitly:\n"
        '  - in the queryset that fetches Book rows: .select_related("author")\n'
        '  - on this instance: book.R("author").sync()\n'
        '  - on a list of instances: prefetch(book_list, "author")'
    )

    async def go() -> str:
        with pytest.raises(RelationNotLoaded) as exc:
            book.author  # noqa: B018
        return str(exc.value)

    assert run(go) == (
        f"Book.author is not loaded on Book pk={pk}: reading it would run a hidden query, which is blocked (inside a running event loop nothing loads implicitly).\n"  # noqa: E501
        "Book.author is a foreign key to Author. Load it explicitly:\n"
        '  - in the queryset that fetches Book rows: .select_related("author")\n'
        '  - on this instance: await book.R("author")\n'
        '  - on a list of instances: await aprefetch(book_list, "author")'
    )


def test_reverse_fk_message_word_for_word(mx):
    author = Author.objects.get(pk=mx["authors"][0].pk)
    with pytest.raises(RelationNotLoaded) as exc:
        list(author.books.all())
    assert str(exc.value) == (
        f'Author.books is not loaded on Author pk={author.pk}: reading it would run a hidden query, which is blocked (RELATIONS mode "raise").\n'  # noqa: E501
        "Author.books is the reverse side of the foreign key Book.author. Load it explicitly:\n"
        '  - in the queryset that fetches Author rows: .prefetch_related("books")\n'
        '  - on this instance: author.R("books").sync()\n'
        '  - on a list of instances: prefetch(author_list, "books")\n'
        "Building a new query stays allowed: author.books.filter(...)."
    )


@cases(CASES)
def test_message_in_raise_mode(mx, case):
    instance = case.alone(mx)
    assert str(raised(case, instance)) == expected_message(case, instance, RAISE)


@cases(CASES)
def test_message_inside_event_loop(mx, case):
    instance = case.alone(mx)

    async def go() -> str:
        with pytest.raises(RelationNotLoaded) as exc:
            case.read(instance)
        return str(exc.value)

    with mode("lazy"):
        assert run(go) == expected_message(case, instance, EVENT_LOOP)


@cases(CASES)
def test_message_in_n_plus_one_mode(mx, case):
    instance, _rows = case.peers(mx)
    with mode("n_plus_one"):
        assert str(raised(case, instance)) == expected_message(case, instance, N_PLUS_ONE)


def test_message_names_an_unsaved_instance(mx):
    book = Book(title="new", author_id=mx["authors"][0].pk)
    error = raised(CASES[0], book)
    assert str(error) == expected_message(CASES[0], book, RAISE)
    assert str(error).startswith("Book.author is not loaded on an unsaved Book: ")
    assert error.pk is None


def test_message_under_settings_mode(mx):
    book = Book.objects.get(pk=mx["books"][0].pk)
    with override_settings(RELATIONS={"MODE": "n_plus_one"}):
        rows = list(Book.objects.order_by("pk"))
        assert str(raised(CASES[0], rows[0])) == expected_message(CASES[0], rows[0], N_PLUS_ONE)
    assert str(raised(CASES[0], book)) == expected_message(CASES[0], book, RAISE)


@cases(CASES)
def test_suggested_queryset_fix_loads_the_relation(mx, case):
    """The ``.select_related(...)``/``.prefetch_related(...)`` the message suggests works."""
    instance = case.alone(mx)
    message = str(raised(case, instance))
    line = next(x for x in message.splitlines() if "in the queryset that fetches" in x)
    method = line.split(": .", 1)[1].split("(", 1)[0]
    assert method in ("select_related", "prefetch_related")
    fixed = getattr(case.queryset(), method)(case.name).get(pk=instance.pk)
    with queries() as q:
        try:
            value = case.read(fixed)
        except RelationNotLoaded:
            pytest.fail(f"the suggested {line.strip()[2:]} did not load {case.model.__name__}.{case.name}")
    assert value == case.expected(mx)
    assert len(q) == 0


def test_warn_mode_warning_text(mx):
    book = Book.objects.get(pk=mx["books"][0].pk)
    with mode("warn"), pytest.warns(RelationLazyLoadWarning) as warned:
        book.author  # noqa: B018
    text = str(warned[0].message)
    assert text.startswith(
        f"Book.author is not loaded on Book pk={book.pk}: reading it would run a hidden query"
    )
    assert 'RELATIONS mode "warn" lets it run' in text
    assert text.endswith(
        "Book.author is a foreign key to Author. Load it explicitly:\n"
        '  - in the queryset that fetches Book rows: .select_related("author")\n'
        '  - on this instance: book.R("author").sync()\n'
        '  - on a list of instances: prefetch(book_list, "author")'
    )


# --------------------------------------------------------------------------
# RelationNotLoaded: attributes, classes, pickling


@cases(CASES)
def test_relation_not_loaded_attributes(mx, case):
    instance = case.alone(mx)
    error = raised(case, instance)
    assert error.model == case.label
    assert error.relation == case.name
    assert error.pk == instance.pk
    assert error.kind == case.kind
    assert error.args == (str(error),)


def test_relation_not_loaded_classes(mx):
    error = raised(CASES[0], Book.objects.get(pk=mx["books"][0].pk))
    assert not isinstance(error, AttributeError)
    assert not issubclass(RelationNotLoaded, AttributeError)
    assert isinstance(error, FieldError)
    if django.VERSION >= (6, 1):
        assert issubclass(RelationNotLoaded, django_exceptions.FieldFetchBlocked)
        assert isinstance(error, django_exceptions.FieldFetchBlocked)
    else:
        assert not hasattr(django_exceptions, "FieldFetchBlocked")
        assert RelationNotLoaded.__mro__[1] is FieldError
    # Code that handles Django's errors handles this one.
    try:
        Book.objects.get(pk=mx["books"][0].pk).author  # noqa: B018
    except FieldError as caught:
        assert type(caught) is RelationNotLoaded
    assert issubclass(RelationLazyLoadWarning, UserWarning)


def _roundtrips(error: Exception) -> list[Any]:
    copies = [pickle.loads(pickle.dumps(error, protocol)) for protocol in range(pickle.HIGHEST_PROTOCOL + 1)]
    return [*copies, copy.copy(error), copy.deepcopy(error)]


@cases(CASES)
def test_relation_not_loaded_pickles(mx, case):
    instance = case.alone(mx)
    error = raised(case, instance)
    for clone in _roundtrips(error):
        assert type(clone) is RelationNotLoaded
        assert str(clone) == str(error)
        assert str(clone).startswith(f"{case.model.__name__}.{case.name} is not loaded on ")
        assert clone.args == error.args
        assert (clone.model, clone.relation, clone.pk, clone.kind) == (
            case.label,
            case.name,
            instance.pk,
            case.kind,
        )


# --------------------------------------------------------------------------
# UnknownRelation

UNKNOWN = {
    "typo": (
        Book,
        "autor",
        f'"autor" is not a relation of Book. Did you mean "author"? Relations of Book: {BOOK_RELATIONS}.',
        ("testapp.Book", "autor"),
    ),
    "field": (
        Book,
        "title",
        f'"title" is a field of Book, not a relation. Relations of Book: {BOOK_RELATIONS}.',
        ("testapp.Book", "title"),
    ),
    "fk_column": (
        Book,
        "author_id",
        '"author_id" is a field of Book, not a relation. Did you mean "author"? '
        f"Relations of Book: {BOOK_RELATIONS}.",
        ("testapp.Book", "author_id"),
    ),
    "no_match": (
        Book,
        "xyzzy",
        f'"xyzzy" is not a relation of Book. Relations of Book: {BOOK_RELATIONS}.',
        ("testapp.Book", "xyzzy"),
    ),
    "second_hop": (
        Book,
        "author__publsher",
        'In "author__publsher": "publsher" is not a relation of Author. Did you mean "publisher"? '
        f"Relations of Author: {AUTHOR_RELATIONS}.",
        ("testapp.Author", "publsher"),
    ),
    "query_name_of_a_reverse_relation": (
        Book,
        "author__membership",
        'In "author__membership": "membership" is the query name of the reverse relation '
        "Author.membership_set (the name for filters: Author.objects.filter(membership__...)); "
        f'on an instance the relation is "membership_set". Relations of Author: {AUTHOR_RELATIONS}.',
        ("testapp.Author", "membership"),
    ),
    "first_hop_of_path": (
        Book,
        "autor__publisher",
        'In "autor__publisher": "autor" is not a relation of Book. Did you mean "author"? '
        f"Relations of Book: {BOOK_RELATIONS}.",
        ("testapp.Book", "autor"),
    ),
}


def _call(how: str, instance: Any, path: str) -> Any:
    if how == "method":
        return instance.R(path)
    if how == "function":
        return R(instance, path)
    if how == "prefetch":
        return prefetch([instance], path)

    async def go() -> Any:
        return await aprefetch([instance], path)

    return run(go)


@pytest.mark.parametrize("how", ["method", "function", "prefetch", "aprefetch"])
@pytest.mark.parametrize(("model", "path", "message", "attrs"), UNKNOWN.values(), ids=UNKNOWN.keys())
def test_unknown_relation_word_for_word_before_any_query(mx, how, model, path, message, attrs):
    instance = model.objects.get(pk=mx["books"][0].pk)
    with queries() as q, pytest.raises(UnknownRelation) as exc:
        _call(how, instance, path)
    assert len(q) == 0
    assert str(exc.value) == message
    assert (exc.value.model, exc.value.name) == attrs
    relations = BOOK_RELATIONS if attrs[0] == "testapp.Book" else AUTHOR_RELATIONS
    assert exc.value.relations == tuple(relations.split(", "))


def test_unknown_relation_leaves_the_instance_unchanged(mx):
    book = Book.objects.get(pk=mx["books"][0].pk)
    with pytest.raises(UnknownRelation):
        prefetch([book], "author", "tags__bogus")
    with queries() as q, pytest.raises(RelationNotLoaded):
        book.author  # the valid lookup before the bad one did not run either  # noqa: B018
    assert len(q) == 0


def test_unknown_relation_classes(mx):
    with pytest.raises(UnknownRelation) as exc:
        Book.objects.get(pk=mx["books"][0].pk).R("autor")
    assert isinstance(exc.value, FieldDoesNotExist)
    assert not isinstance(exc.value, AttributeError)
    assert not issubclass(UnknownRelation, AttributeError)
    assert not isinstance(exc.value, RelationNotLoaded)


@pytest.mark.parametrize(("model", "path", "message", "attrs"), UNKNOWN.values(), ids=UNKNOWN.keys())
def test_unknown_relation_pickles(mx, model, path, message, attrs):
    with pytest.raises(UnknownRelation) as exc:
        model.objects.get(pk=mx["books"][0].pk).R(path)
    error = exc.value
    for clone in _roundtrips(error):
        assert type(clone) is UnknownRelation
        assert str(clone) == message
        assert clone.args == error.args
        assert (clone.model, clone.name, clone.relations) == (error.model, error.name, error.relations)


def test_unknown_relation_after_a_generic_foreign_key_is_checked_on_the_target(mx):
    comment = Comment.objects.get(pk=mx["comments"][0].pk)
    with pytest.raises(UnknownRelation) as exc:
        comment.R("target__autor").sync()
    assert str(exc.value) == (
        'In "target__autor": "autor" is not a relation of Book. Did you mean "author"? '
        f"Relations of Book: {BOOK_RELATIONS}."
    )
    assert (exc.value.model, exc.value.name) == ("testapp.Book", "autor")


# --------------------------------------------------------------------------
# The traceback ends at the user's line (plus the descriptor's one hidden frame)


def _library_frames(error: BaseException) -> list[traceback.FrameSummary]:
    tests = os.path.dirname(os.path.abspath(__file__)) + os.sep
    frames = traceback.extract_tb(error.__traceback__)
    user = max(i for i, f in enumerate(frames) if os.path.abspath(f.filename).startswith(tests))
    return frames[user + 1 :]


def _hidden(error: BaseException) -> list[bool]:
    tb, hidden = error.__traceback__, []
    while tb is not None:
        if tb.tb_frame.f_globals.get("__name__", "").startswith("relations"):
            hidden.append(bool(tb.tb_frame.f_locals.get("__tracebackhide__")))
            hidden.append(bool(tb.tb_frame.f_locals.get("__traceback_hide__")))
        tb = tb.tb_next
    return hidden


@cases(CASES)
def test_traceback_has_one_library_frame_after_the_users_line_and_it_hides_itself(mx, case):
    error = raised(case, case.alone(mx))
    frames = _library_frames(error)
    assert len(frames) == 1, frames
    assert "/descriptors/" in frames[0].filename
    assert frames[0].line == "raise error"
    assert _hidden(error) == [True, True]  # __tracebackhide__ (pytest), __traceback_hide__ (Django)
