"""The strict descriptors: relation kind x loaded / not loaded x sync / async x mode.

Every read goes through ``Case.read`` (plain attribute access, or iterating
``.all()`` for a to-many relation) and every claim about queries is counted with
Django's own ``CaptureQueriesContext``.
"""

from __future__ import annotations

import logging
import warnings
from contextlib import nullcontext
from typing import Any

import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ObjectDoesNotExist, SynchronousOnlyOperation
from django.db import connections
from django.template import Context, Template
from django.test import override_settings

from relations import R, RelationLazyLoadWarning, RelationNotLoaded, aprefetch, mode, prefetch
from tests.conftest import queries, run
from tests.matrix import (
    ASSIGNABLE,
    CASES,
    JOINABLE,
    MODES,
    TO_MANY,
    TO_ONE,
    Case,
    cases,
    mx_fixture,  # noqa: F401 - the mx fixture
)
from tests.testapp.models import Author, Book, Comment, Place, Restaurant

EVENT_LOOP = "inside a running event loop nothing loads implicitly"


def relations_mode(name: str) -> override_settings:
    return override_settings(RELATIONS={"MODE": name})


def read_in_event_loop(case: Case, instance: Any) -> Any:
    async def go() -> Any:
        return case.read(instance)

    return run(go)


# --------------------------------------------------------------------------
# Loaded: plain access works with no query, in every mode, in sync and async code


def _load_select_related(case: Case, mx: dict[str, Any]) -> Any:
    return case.queryset().select_related(case.name).get(pk=case.pk(mx))


def _load_prefetch_related(case: Case, mx: dict[str, Any]) -> Any:
    return case.queryset().prefetch_related(case.name).get(pk=case.pk(mx))


def _load_r_sync(case: Case, mx: dict[str, Any]) -> Any:
    instance = case.alone(mx)
    instance.R(case.name).sync()
    return instance


def _load_r_async(case: Case, mx: dict[str, Any]) -> Any:
    instance = case.alone(mx)

    async def go() -> None:
        await instance.R(case.name)

    run(go)
    return instance


def _load_r_function(case: Case, mx: dict[str, Any]) -> Any:
    instance = case.alone(mx)

    async def go() -> None:
        await R(instance, case.name)

    run(go)
    return instance


def _load_prefetch(case: Case, mx: dict[str, Any]) -> Any:
    instance = case.alone(mx)
    prefetch([instance], case.name)
    return instance


def _load_aprefetch(case: Case, mx: dict[str, Any]) -> Any:
    instance = case.alone(mx)

    async def go() -> None:
        await aprefetch([instance], case.name)

    run(go)
    return instance


def _load_assignment(case: Case, mx: dict[str, Any]) -> Any:
    instance = case.alone(mx)
    setattr(instance, case.name, case.assign(mx))  # type: ignore[misc]
    return instance


LOADERS = {
    "select_related": _load_select_related,
    "prefetch_related": _load_prefetch_related,
    "R_sync": _load_r_sync,
    "R_async": _load_r_async,
    "R_function": _load_r_function,
    "prefetch": _load_prefetch,
    "aprefetch": _load_aprefetch,
    "assignment": _load_assignment,
}


def _loaded_params() -> list[Any]:
    params = []
    for case in CASES:
        for how in LOADERS:
            if how == "select_related" and case not in JOINABLE:
                continue
            if how == "assignment" and case not in ASSIGNABLE:
                continue
            params.append(pytest.param(case, how, id=f"{case.id}-{how}"))
    return params


@pytest.mark.parametrize(("case", "how"), _loaded_params())
def test_loaded_relation_reads_without_query(mx, case, how):
    instance = LOADERS[how](case, mx)
    expected = case.expected(mx)
    for name in MODES:
        for side in ("sync", "async"):
            with relations_mode(name), queries() as q:
                value = case.read(instance) if side == "sync" else read_in_event_loop(case, instance)
            assert value == expected, (name, side)
            assert len(q) == 0, (name, side, [x["sql"] for x in q.captured_queries])


# --------------------------------------------------------------------------
# Not loaded, sync code: what each mode does


@cases(CASES)
def test_unloaded_raise_mode_raises_without_query(mx, case):
    instance = case.alone(mx)
    with relations_mode("raise"), queries() as q, pytest.raises(RelationNotLoaded) as exc:
        case.read(instance)
    assert len(q) == 0
    assert (exc.value.model, exc.value.relation, exc.value.pk) == (case.label, case.name, instance.pk)
    assert exc.value.kind == case.kind


def test_raise_is_the_default_mode(mx):
    book = Book.objects.get(pk=mx["books"][0].pk)
    with queries() as q, pytest.raises(RelationNotLoaded):
        book.author  # noqa: B018
    assert len(q) == 0


@cases(CASES)
def test_unloaded_lazy_mode_loads_like_django(mx, case):
    instance = case.alone(mx)
    with relations_mode("lazy"):
        with queries() as q:
            value = case.read(instance)
        assert value == case.expected(mx)
        assert len(q) == case.lazy_queries
        if not case.many:
            # Django cached what it loaded (even "no row"): the next read is free.
            with queries() as q:
                assert case.read(instance) == case.expected(mx)
            assert len(q) == 0


@cases(CASES)
def test_unloaded_warn_mode_warns_logs_and_loads(mx, case, caplog):
    instance = case.alone(mx)
    with (
        relations_mode("warn"),
        caplog.at_level(logging.WARNING, logger="relations"),
        pytest.warns(RelationLazyLoadWarning) as warned,
        queries() as q,
    ):
        value = case.read(instance)
    assert value == case.expected(mx)
    assert len(q) == case.lazy_queries
    assert len(warned) == 1
    head = f"{case.model.__name__}.{case.name} is not loaded on {case.model.__name__} pk={instance.pk!r}"
    assert str(warned[0].message).startswith(head)  # the full text: test_errors.py
    records = [r for r in caplog.records if r.name == "relations"]
    assert len(records) == 1
    assert records[0].levelno == logging.WARNING
    message = records[0].getMessage()
    start = f"Lazy load of {case.model.__name__}.{case.name} on {case.model.__name__} pk={instance.pk!r} at "
    assert message.startswith(start), message
    # The location is the user's line (here the read in tests/matrix.py), not the library's.
    assert message[len(start) :].split(":")[0].endswith("tests/matrix.py"), message


@cases(CASES)
def test_unloaded_n_plus_one_loads_an_instance_fetched_alone(mx, case):
    instance = case.alone(mx)  # .get()
    with relations_mode("n_plus_one"), queries() as q:
        value = case.read(instance)
    assert value == case.expected(mx)
    assert len(q) == case.lazy_queries


@cases(CASES)
def test_unloaded_n_plus_one_raises_for_an_instance_from_a_multi_row_result(mx, case):
    instance, _rows = case.peers(mx)
    with relations_mode("n_plus_one"), queries() as q, pytest.raises(RelationNotLoaded) as exc:
        case.read(instance)
    assert len(q) == 0
    assert "this instance came from a multi-row result" in str(exc.value)


@cases(CASES)
def test_unloaded_lazy_mode_loads_an_instance_from_a_multi_row_result(mx, case):
    instance, _rows = case.peers(mx)
    with relations_mode("lazy"), queries() as q:
        assert case.read(instance) == case.expected(mx)
    assert len(q) == case.lazy_queries


def test_n_plus_one_raises_for_objects_built_by_select_related_in_a_multi_row_result(mx):
    with relations_mode("n_plus_one"), queries() as q:
        books = Book.objects.select_related("author").order_by("pk")
        with pytest.raises(RelationNotLoaded) as exc:
            for b in books:
                b.author.publisher  # noqa: B018
    assert len(q) == 1  # the books query only: b.author was joined, publisher blocked
    assert exc.value.model == "testapp.Author"
    assert exc.value.relation == "publisher"
    assert exc.value.pk == mx["books"][0].author_id


def test_n_plus_one_loads_for_an_object_built_by_select_related_in_a_single_row(mx):
    with relations_mode("n_plus_one"):
        book = Book.objects.select_related("author").get(pk=mx["books"][0].pk)
        with queries() as q:
            assert book.author.publisher == mx["publishers"][0]
    assert len(q) == 1


def test_n_plus_one_loads_for_a_single_row_queryset(mx):
    with relations_mode("n_plus_one"):
        [book] = Book.objects.filter(pk=mx["books"][0].pk)
        with queries() as q:
            assert book.author == mx["authors"][0]
    assert len(q) == 1


def test_n_plus_one_raises_for_rows_that_prefetch_related_fetched_together(mx):
    with relations_mode("n_plus_one"):
        author = Author.objects.prefetch_related("books").get(pk=mx["authors"][0].pk)
        book = next(b for b in author.books.all() if b.pk == mx["books"][0].pk)
        with queries() as q, pytest.raises(RelationNotLoaded):
            book.editor  # two books came back for Ada: the N of N+1  # noqa: B018
    assert len(q) == 0


# --------------------------------------------------------------------------
# Not loaded, inside a running event loop: every mode raises, never SynchronousOnlyOperation


@cases(CASES)
def test_unloaded_in_event_loop_raises_in_every_mode(mx, case):
    for mode_name in MODES:
        instance = case.alone(mx)

        async def go(instance: Any = instance) -> RelationNotLoaded:
            with pytest.raises(RelationNotLoaded) as exc:
                case.read(instance)
            return exc.value

        with relations_mode(mode_name), queries() as q, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            error = run(go)
        assert type(error) is RelationNotLoaded, mode_name
        assert not isinstance(error, SynchronousOnlyOperation)
        assert f"({EVENT_LOOP})" in str(error), mode_name
        assert len(q) == 0, mode_name
        assert not [w for w in caught if issubclass(w.category, RelationLazyLoadWarning)], mode_name


@pytest.mark.parametrize("mode_name", MODES)
def test_mode_context_manager_does_not_load_in_event_loop(mx, mode_name):
    book = Book.objects.get(pk=mx["books"][0].pk)

    async def go() -> None:
        with mode(mode_name), pytest.raises(RelationNotLoaded):
            book.author  # noqa: B018

    with queries() as q:
        run(go)
    assert len(q) == 0


# --------------------------------------------------------------------------
# Never "not loaded": Django answers from the instance alone


@pytest.mark.parametrize("mode_name", MODES)
def test_null_fk_reads_none_without_query_in_every_mode(mx, mode_name):
    saved = Book.objects.get(pk=mx["books"][1].pk)  # B2 has no editor
    peer = next(b for b in Book.objects.order_by("pk") if b.pk == saved.pk)
    unsaved = Book(title="new")
    with relations_mode(mode_name), queries() as q:
        for book in (saved, peer, unsaved):
            assert book.editor is None

            async def go(book: Book = book) -> Any:
                return book.editor

            assert run(go) is None
    assert len(q) == 0


def test_fk_id_on_an_unsaved_instance_is_an_ordinary_unloaded_relation(mx):
    book = Book(title="new", author_id=mx["authors"][0].pk)
    with queries() as q, pytest.raises(RelationNotLoaded) as exc:
        book.author  # noqa: B018
    assert len(q) == 0
    assert exc.value.pk is None
    with relations_mode("lazy"), queries() as q:
        assert book.author.pk == mx["authors"][0].pk
    assert len(q) == 1


def test_changing_the_fk_id_unloads_the_cached_object(mx):
    a1, a2 = mx["authors"][:2]
    book = Book.objects.select_related("author").get(pk=mx["books"][0].pk)
    assert book.author.pk == a1.pk
    book.author_id = a2.pk
    with queries() as q, pytest.raises(RelationNotLoaded):
        book.author  # never the stale Ada  # noqa: B018
    assert len(q) == 0


def test_reverse_o2o_absent_and_loaded_raises_django_does_not_exist_without_query(mx):
    bob = mx["authors"][1]
    for author in (
        Author.objects.select_related("profile").get(pk=bob.pk),
        Author.objects.prefetch_related("profile").get(pk=bob.pk),
    ):
        with queries() as q:
            with pytest.raises(Author.profile.RelatedObjectDoesNotExist) as exc:
                author.profile  # noqa: B018
            assert not isinstance(exc.value, RelationNotLoaded)
            assert isinstance(exc.value, ObjectDoesNotExist)
            assert hasattr(author, "profile") is False  # Django's own AttributeError subclass
        assert len(q) == 0
    author = Author.objects.get(pk=bob.pk)
    with queries() as q:
        assert author.R("profile").sync() is None
    assert len(q) == 1
    with queries() as q, pytest.raises(Author.profile.RelatedObjectDoesNotExist):
        author.profile  # noqa: B018
    assert len(q) == 0


def test_reverse_o2o_absent_and_not_loaded_is_unloaded(mx):
    author = Author.objects.get(pk=mx["authors"][1].pk)
    with queries() as q, pytest.raises(RelationNotLoaded):
        author.profile  # noqa: B018
    assert len(q) == 0


def test_reverse_o2o_on_unsaved_instance_is_django_does_not_exist(mx):
    with queries() as q, pytest.raises(Author.profile.RelatedObjectDoesNotExist):
        Author(name="new").profile  # noqa: B018
    assert len(q) == 0


@pytest.mark.parametrize("mode_name", MODES)
def test_parent_link_with_parent_fields_present_needs_no_query(mx, mode_name):
    pk = mx["restaurants"][0].pk
    alone = Restaurant.objects.get(pk=pk)
    peer = next(r for r in Restaurant.objects.order_by("pk") if r.pk == pk)
    with relations_mode(mode_name), queries() as q:
        for restaurant in (alone, peer):
            place = restaurant.place_ptr
            assert type(place) is Place
            assert (place.pk, place.name) == (pk, "Luigi's")

            async def go(restaurant: Restaurant = restaurant) -> str:
                return restaurant.place_ptr.name

            assert run(go) == "Luigi's"
    assert len(q) == 0


@pytest.mark.parametrize("deferral", ["only", "defer"])
def test_parent_link_with_parent_fields_deferred_raises(mx, deferral):
    pk = mx["restaurants"][0].pk
    qs = Restaurant.objects.only("serves_pizza") if deferral == "only" else Restaurant.objects.defer("name")
    restaurant = qs.get(pk=pk)
    with queries() as q, pytest.raises(RelationNotLoaded) as exc:
        restaurant.place_ptr  # noqa: B018
    assert len(q) == 0
    assert exc.value.kind == "multi-table inheritance parent link"


@pytest.mark.parametrize("variant", ["both_null", "null_object_id", "null_content_type", "unsaved"])
def test_gfk_with_null_content_type_or_object_id_reads_none_without_query(mx, variant):
    ct = ContentType.objects.get_for_model(Book)
    if variant == "both_null":
        pk = Comment.objects.get(text="orphan, no target").pk
    elif variant == "null_object_id":
        pk = Comment.objects.create(content_type=ct, object_id=None, text=variant).pk
    elif variant == "null_content_type":
        pk = Comment.objects.create(content_type=None, object_id=mx["books"][0].pk, text=variant).pk

    def fresh() -> list[Comment]:
        if variant == "unsaved":
            return [Comment(text="unsaved"), Comment(content_type=ct, text="unsaved")]
        alone = Comment.objects.get(pk=pk)
        peer = next(c for c in Comment.objects.order_by("pk") if c.pk == pk)
        return [alone, peer]

    for mode_name in MODES:
        with relations_mode(mode_name):
            comments = fresh()
            with queries() as q:
                assert [c.target for c in comments] == [None, None], mode_name
            assert len(q) == 0, (mode_name, [x["sql"] for x in q.captured_queries])

            comments = fresh()

            async def go(comments: list[Comment] = comments) -> list[Any]:
                return [c.target for c in comments]

            with queries() as q:
                assert run(go) == [None, None], mode_name
            assert len(q) == 0, mode_name


def test_gfk_cached_object_no_longer_matching_the_columns_is_unloaded(mx):
    comment = Comment.objects.prefetch_related("target").get(pk=mx["comments"][0].pk)
    assert comment.target.pk == mx["books"][0].pk
    comment.object_id = mx["books"][2].pk  # Django would re-fetch: never the stale B1
    with queries() as q, pytest.raises(RelationNotLoaded):
        comment.target  # noqa: B018
    assert len(q) == 0
    with relations_mode("lazy"), queries() as q:
        assert comment.target.pk == mx["books"][2].pk
    assert len(q) == 1


def test_gfk_to_a_deleted_object_loaded_reads_none_without_query(mx):
    comment = Comment.objects.get(pk=mx["comments"][2].pk)  # on Bob
    comment.R("target").sync()
    Comment.objects.filter(pk=comment.pk).update(object_id=10**6)
    gone = Comment.objects.get(pk=comment.pk)
    assert gone.R("target").sync() is None
    with queries() as q:
        assert gone.target is None
    assert len(q) == 0


# --------------------------------------------------------------------------
# hasattr / getattr / templates must not swallow the error


@cases([c for c in TO_ONE if c.id != "reverse_o2o_absent"])
def test_hasattr_and_getattr_do_not_swallow_relation_not_loaded(mx, case):
    instance = case.alone(mx)
    assert not issubclass(RelationNotLoaded, AttributeError)
    with queries() as q:
        with pytest.raises(RelationNotLoaded):
            hasattr(instance, case.name)
        with pytest.raises(RelationNotLoaded):
            getattr(instance, case.name, None)
    assert len(q) == 0


def test_template_does_not_swallow_relation_not_loaded(mx):
    book = Book.objects.get(pk=mx["books"][0].pk)
    template = Template("{{ book.author.name }}")
    with queries() as q, pytest.raises(RelationNotLoaded):
        template.render(Context({"book": book}))
    assert len(q) == 0
    book.R("author").sync()
    with queries() as q:
        assert template.render(Context({"book": book})) == "Ada"
    assert len(q) == 0


# --------------------------------------------------------------------------
# To-many managers: what is guarded and what is an explicit query


def _manager(case: Case, instance: Any) -> Any:
    return getattr(instance, case.name)


GUARDED_OPS = {
    "list(all())": lambda m: sorted(o.pk for o in list(m.all())),
    "for x in all()": lambda m: sorted(o.pk for o in m.all()),
    "len(all())": lambda m: len(m.all()),
    "bool(all())": lambda m: bool(m.all()),
    "all().count()": lambda m: m.all().count(),
    "manager.count()": lambda m: m.count(),
    "all().exists()": lambda m: m.all().exists(),
    "manager.exists()": lambda m: m.exists(),
}
ITERATOR_OPS = {
    "all().iterator()": lambda m: sorted(o.pk for o in m.all().iterator()),
    "manager.iterator()": lambda m: sorted(o.pk for o in m.iterator()),
}


def _expected_op(op: str, pks: list[Any]) -> Any:
    if op.startswith(("len", "all().count", "manager.count")):
        return len(pks)
    if op.startswith(("bool", "all().exists", "manager.exists")):
        return bool(pks)
    return pks


def _unguarded(case: Case, instance: Any, ops: dict[str, Any], *, count: bool = True) -> list[str]:
    """The operations that did not raise RelationNotLoaded before any query.

    ``count=False`` inside an event loop, where query capture itself cannot run
    (the caller counts around the whole loop instead).
    """
    found = []
    for op, fn in ops.items():
        with queries() if count else nullcontext([]) as q:
            try:
                fn(_manager(case, instance))
            except RelationNotLoaded as exc:
                if exc.relation != case.name or len(q):
                    found.append(f"{op}: {exc.relation}, {len(q)} queries")
            except Exception as exc:  # e.g. SynchronousOnlyOperation in an event loop
                found.append(f"{op}: {type(exc).__name__} instead of RelationNotLoaded")
            else:
                found.append(f"{op}: ran {len(q)} queries, did not raise")
    return found


@pytest.mark.parametrize("mode_name", ["raise", "n_plus_one"])
@cases(TO_MANY)
def test_to_many_full_set_evaluation_is_guarded(mx, case, mode_name):
    instance = case.peers(mx)[0] if mode_name == "n_plus_one" else case.alone(mx)
    with relations_mode(mode_name):
        unguarded = _unguarded(case, instance, {**GUARDED_OPS, **ITERATOR_OPS})
    assert unguarded == []


@cases(TO_MANY)
def test_to_many_full_set_evaluation_in_lazy_mode_runs_djangos_query(mx, case):
    instance = case.alone(mx)
    expected = case.expected(mx)
    with relations_mode("lazy"):
        for op, fn in {**GUARDED_OPS, **ITERATOR_OPS}.items():
            with queries() as q:
                assert fn(_manager(case, instance)) == _expected_op(op, expected), op
            assert len(q) == 1, op


@cases(TO_MANY)
def test_to_many_full_set_evaluation_in_event_loop_raises(mx, case):
    instance = case.alone(mx)

    async def go() -> list[str]:
        return _unguarded(case, instance, {**GUARDED_OPS, **ITERATOR_OPS}, count=False)

    with relations_mode("lazy"), queries() as q:
        assert run(go) == []
    assert len(q) == 0


@cases(TO_MANY)
def test_to_many_explicit_queries_are_allowed_in_raise_mode(mx, case):
    instance = case.alone(mx)
    expected = case.expected(mx)
    manager = _manager(case, instance)
    with relations_mode("raise"):
        with queries() as q:
            assert [o.pk for o in manager.filter(pk=expected[0])] == [expected[0]]
        assert len(q) == 1
        with queries() as q:
            assert manager.first().pk in expected
        assert len(q) == 1
        with queries() as q:
            assert manager.get(pk=expected[-1]).pk == expected[-1]
        assert len(q) == 1
        with queries() as q:
            assert [o.pk for o in manager.order_by("-pk")] == sorted(expected, reverse=True)
        assert len(q) == 1
        with queries() as q:
            assert manager.filter(pk__in=expected).count() == len(expected)
        assert len(q) == 1


@cases(TO_MANY)
def test_to_many_async_queries_are_allowed(mx, case):
    instance = case.alone(mx)
    expected = case.expected(mx)

    async def go() -> tuple[Any, ...]:
        manager = _manager(case, instance)
        pks = sorted([x.pk async for x in manager.all()])
        count = await manager.acount()
        all_count = await manager.all().acount()
        exists = await manager.aexists()
        all_exists = await manager.all().aexists()
        first = await manager.afirst()
        got = await manager.aget(pk=expected[0])
        return pks, count, all_count, exists, all_exists, first.pk, got.pk

    with relations_mode("raise"), queries() as q:
        pks, count, all_count, exists, all_exists, first, got = run(go)
    assert pks == expected
    assert count == all_count == len(expected)
    assert exists is all_exists is True
    assert first in expected
    assert got == expected[0]
    assert len(q) == 7


@cases(TO_MANY)
def test_to_many_guarded_evaluation_after_prefetch_costs_no_query(mx, case):
    instance = case.queryset().prefetch_related(case.name).get(pk=case.pk(mx))
    expected = case.expected(mx)
    for mode_name in MODES:
        with relations_mode(mode_name):
            for op, fn in GUARDED_OPS.items():
                with queries() as q:
                    assert fn(_manager(case, instance)) == _expected_op(op, expected), op
                assert len(q) == 0, (mode_name, op)

    async def go() -> Any:
        return [fn(_manager(case, instance)) for fn in GUARDED_OPS.values()]

    with queries() as q:
        values = run(go)
    assert values == [_expected_op(op, expected) for op in GUARDED_OPS]
    assert len(q) == 0


@cases(TO_MANY)
def test_to_many_iterator_after_prefetch_costs_no_query(mx, case):
    instance = case.queryset().prefetch_related(case.name).get(pk=case.pk(mx))
    expected = case.expected(mx)
    with relations_mode("raise"):
        for op, fn in ITERATOR_OPS.items():
            with queries() as q:
                assert fn(_manager(case, instance)) == expected, op
            assert len(q) == 0, (op, [x["sql"] for x in q.captured_queries])


# --------------------------------------------------------------------------
# A real event loop (pytest-asyncio): the asgiref thread has its own connection


@pytest_asyncio.fixture
async def close_thread_connections():
    """Close the connection that asgiref's worker thread opened during the test.

    Torn down in the test's own event loop, so ``sync_to_async`` reaches the same
    worker thread (PostgreSQL cannot drop a test database with a session left open).
    """
    yield
    await sync_to_async(connections.close_all)()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_real_event_loop_unloaded_raises_in_every_mode(mx, close_thread_connections):
    book = await Book.objects.aget(title="B1")
    author = await Author.objects.aget(name="Ada")
    comment = await Comment.objects.aget(text="on b1")
    for mode_name in MODES:
        for read in (
            lambda: book.author,
            lambda: book.editor,
            lambda: list(book.tags.all()),
            lambda: author.profile,
            lambda: len(author.books.all()),
            lambda: author.books.count(),
            lambda: comment.target,
        ):
            with relations_mode(mode_name), pytest.raises(RelationNotLoaded) as exc:
                read()
            assert f"({EVENT_LOOP})" in str(exc.value)


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_real_event_loop_loaded_reads_and_explicit_queries(mx, close_thread_connections):
    book = await Book.objects.select_related("author").aget(title="B1")
    author = await Author.objects.aget(name="Ada")
    # Loaded reads would raise SynchronousOnlyOperation here if they queried.
    assert book.author.name == "Ada"
    assert [b.title async for b in author.books.order_by("title")] == ["B1", "B2"]
    assert await author.books.acount() == 2
    assert await author.books.aexists() is True
    with pytest.raises(RelationNotLoaded):
        list(author.books.all())
    books = await author.R("books")
    assert sorted(b.title for b in books) == ["B1", "B2"]
    assert sorted(b.title for b in author.books.all()) == ["B1", "B2"]
    assert author.books.count() == 2
    pub = await book.R("author__publisher")
    assert book.author.publisher is pub
    comment = await Comment.objects.aget(text="on b1")
    assert (await comment.R("target")).title == "B1"
    assert comment.target.title == "B1"
