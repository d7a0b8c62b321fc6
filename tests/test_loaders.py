"""aprefetch()/prefetch(): batch loading, one query per hop, compared with Django's own
``prefetch_related_objects``; plus loader-level rules (skips, Prefetch objects, databases).

Every behaviour runs on both faces: ``prefetch()`` (sync driver) and ``aprefetch()``
(thread driver, through ``run()`` so its queries are counted on this thread).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connections
from django.db.models import Prefetch, QuerySet, prefetch_related_objects
from django.test.utils import CaptureQueriesContext, override_settings

from relations import RelationNotLoaded, UnknownRelation, aprefetch, prefetch
from tests.conftest import queries, run
from tests.loader_helpers import SelectLog, related_pks, snapshot, warm_contenttypes
from tests.testapp.models import Author, Book, BookProxy, Chapter, Comment, Publisher, Tag

FACES = ["prefetch", "aprefetch"]


@pytest.fixture(params=FACES)
def batch(request: Any) -> Any:
    """``batch(instances, *lookups)``: prefetch() or aprefetch() through run()."""
    if request.param == "prefetch":
        return prefetch

    def via_aprefetch(instances: Any, *lookups: Any) -> Any:
        async def go() -> Any:
            return await aprefetch(instances, *lookups)

        return run(go)

    return via_aprefetch


@pytest.fixture
def ct_warm(data: dict[str, Any]) -> None:
    warm_contenttypes()


def books() -> list[Book]:
    return list(Book.objects.order_by("pk"))


# lookup on the four books -> exact number of queries (content types warm)
COUNTS = [
    ("author", 1),
    ("editor", 1),
    ("tags", 1),
    ("author__publisher", 2),
    ("comments", 1),
    ("chapters", 1),
    ("reviews", 1),
    ("author__profile", 2),
    ("tags__books", 2),
    ("author__books__tags", 3),
    ("comments__target", 2),
    ("author__mentor__publisher", 3),
]


@pytest.mark.parametrize(("lookup", "count"), COUNTS, ids=[c[0] for c in COUNTS])
def test_one_query_per_hop_and_same_result_as_django(batch, ct_warm, lookup, count):
    ours = books()
    with queries() as q:
        returned = batch(ours, lookup)
    assert len(q) == count, [x["sql"] for x in q.captured_queries]
    assert returned == ours and all(a is b for a, b in zip(returned, ours, strict=True))

    theirs = books()
    prefetch_related_objects(theirs, lookup)
    # Same pks, in the same order, at every hop (read by plain access: no query).
    assert related_pks(ours, lookup) == related_pks(theirs, lookup)


@pytest.mark.parametrize("lookup", ["author", "tags", "author__publisher", "comments", "chapters"])
def test_cache_state_matches_django(batch, ct_warm, lookup):
    """What is cached, and where, is what Django's prefetch_related_objects caches."""
    ours = books()
    batch(ours, lookup)
    theirs = books()
    prefetch_related_objects(theirs, lookup)
    assert snapshot(ours, depth=3) == snapshot(theirs, depth=3)


def test_several_lookups_share_hops(batch, data):
    ours = books()
    with queries() as q:
        batch(ours, "author", "author__publisher", "tags", "author__books")
    assert len(q) == 4
    with queries() as q:
        for b in ours:
            assert b.author.publisher is not None or b.author.name == "Cy"
            list(b.tags.all())
            list(b.author.books.all())
    assert len(q) == 0


def test_generic_foreign_key_one_query_per_content_type(batch, ct_warm):
    comments = list(Comment.objects.order_by("pk"))  # two on B1, one on Bob, one orphan
    with queries() as q:
        batch(comments, "target")
    assert len(q) == 2
    theirs = list(Comment.objects.order_by("pk"))
    prefetch_related_objects(theirs, "target")
    assert related_pks(comments, "target") == related_pks(theirs, "target")
    assert comments[3].target is None


# --- Prefetch objects ---------------------------------------------------------------------------------


def test_prefetch_object_with_filtered_queryset(batch, data):
    ours = books()
    lookup = Prefetch("tags", queryset=Tag.objects.exclude(name="poetry"))
    with queries() as q:
        batch(ours, lookup)
    assert len(q) == 1
    theirs = books()
    prefetch_related_objects(theirs, Prefetch("tags", queryset=Tag.objects.exclude(name="poetry")))
    assert related_pks(ours, "tags") == related_pks(theirs, "tags")
    assert [sorted(t.name for t in b.tags.all()) for b in ours] == [["sf"], [], ["essay", "sf"], []]


def test_prefetch_object_queryset_is_not_mutated(batch, data):
    """The queryset given to Prefetch()/R() stays the user's: unevaluated and unfiltered."""
    queryset = Tag.objects.exclude(name="poetry")
    sql = str(queryset.query)
    ours = books()
    batch(ours, Prefetch("tags", queryset=queryset))
    assert queryset._result_cache is None
    assert str(queryset.query) == sql
    # Each book's cached queryset is its own object with its own rows.
    cached = [b._prefetched_objects_cache["tags"] for b in ours]
    assert len({id(c) for c in cached}) == len(cached)


def test_prefetch_object_with_to_attr(batch, data):
    ours = books()
    with queries() as q:
        batch(ours, Prefetch("tags", queryset=Tag.objects.order_by("name"), to_attr="tag_list"))
    assert len(q) == 1
    theirs = books()
    prefetch_related_objects(
        theirs, Prefetch("tags", queryset=Tag.objects.order_by("name"), to_attr="tag_list")
    )
    assert [[t.pk for t in b.tag_list] for b in ours] == [[t.pk for t in b.tag_list] for b in theirs]
    assert [type(b.tag_list) for b in ours] == [list] * 4
    # to_attr does not mark the relation itself as loaded.
    with pytest.raises(RelationNotLoaded):
        list(ours[0].tags.all())
    # Loading again is skipped.
    with queries() as q:
        batch(ours, Prefetch("tags", to_attr="tag_list"))
    assert len(q) == 0


def test_prefetch_object_with_to_attr_on_to_one(batch, data):
    ours = books()
    batch(ours, Prefetch("author", to_attr="the_author"))
    theirs = books()
    prefetch_related_objects(theirs, Prefetch("author", to_attr="the_author"))
    assert [b.the_author.pk for b in ours] == [b.the_author.pk for b in theirs]
    assert not Book.author.field.is_cached(ours[0])


def test_prefetch_object_on_a_path(batch, data):
    ours = books()
    with queries() as q:
        batch(ours, Prefetch("author__books", queryset=Book.objects.filter(title__in=["B1", "B3"])))
    assert len(q) == 2
    theirs = books()
    prefetch_related_objects(
        theirs, Prefetch("author__books", queryset=Book.objects.filter(title__in=["B1", "B3"]))
    )
    assert related_pks(ours, "author__books") == related_pks(theirs, "author__books")


def test_prefetch_object_with_select_related_queryset(batch, data):
    authors = list(Author.objects.order_by("pk"))
    with queries() as q:
        batch(authors, Prefetch("books", queryset=Book.objects.select_related("editor")))
    assert len(q) == 1
    with queries() as q:
        editors = [sorted((b.title, b.editor and b.editor.name) for b in a.books.all()) for a in authors]
    assert len(q) == 0
    assert editors == [[("B1", "Bob"), ("B2", None)], [("B3", "Ada")], [("B4", None)]]


def test_prefetch_object_with_to_attr_on_a_path(batch, data):
    ours = books()
    batch(ours, Prefetch("author__books", queryset=Book.objects.order_by("-title"), to_attr="book_list"))
    theirs = books()
    prefetch_related_objects(
        theirs, Prefetch("author__books", queryset=Book.objects.order_by("-title"), to_attr="book_list")
    )
    assert [[x.pk for x in b.author.book_list] for b in ours] == [
        [x.pk for x in b.author.book_list] for b in theirs
    ]


def test_generic_prefetch_querysets_are_used(batch, ct_warm):
    """Django's GenericPrefetch gives one queryset per target model."""
    from django.contrib.contenttypes.prefetch import GenericPrefetch

    def lookup() -> Any:
        return GenericPrefetch(
            "target", [Book.objects.filter(title="nope"), Author.objects.filter(name="Bob")]
        )

    ours = list(Comment.objects.order_by("pk"))
    batch(ours, lookup())
    theirs = list(Comment.objects.order_by("pk"))
    prefetch_related_objects(theirs, lookup())
    assert related_pks(ours, "target") == related_pks(theirs, "target")
    assert [c.target is None for c in ours] == [True, True, False, True]


def test_nested_prefetch_related_inside_prefetch_queryset(batch, data):
    authors = list(Author.objects.order_by("pk"))
    lookup = Prefetch("books", queryset=Book.objects.prefetch_related("tags", "author__publisher"))
    with queries() as q:
        batch(authors, lookup)
    # books, tags, and author__publisher (the authors are already known: the rows point back)
    assert len(q) <= 4
    theirs = list(Author.objects.order_by("pk"))
    prefetch_related_objects(
        theirs, Prefetch("books", queryset=Book.objects.prefetch_related("tags", "author__publisher"))
    )
    assert related_pks(authors, "books__tags") == related_pks(theirs, "books__tags")
    assert related_pks(authors, "books__author__publisher") == related_pks(theirs, "books__author__publisher")


def test_nested_prefetch_object_inside_prefetch_queryset(batch, data):
    publishers = list(Publisher.objects.order_by("pk"))
    inner = Prefetch("books", queryset=Book.objects.prefetch_related(Prefetch("tags", to_attr="tl")))
    with queries() as q:
        batch(publishers, Prefetch("authors", queryset=Author.objects.prefetch_related(inner)))
    assert len(q) == 3
    with queries() as q:
        names = sorted(
            t.name for p in publishers for a in p.authors.all() for b in a.books.all() for t in b.tl
        )
    assert len(q) == 0
    assert names == ["essay", "poetry", "poetry", "poetry", "sf", "sf"]


# --- skipping what is loaded -----------------------------------------------------------------------------


def test_all_loaded_costs_nothing(batch, ct_warm):
    ours = books()
    batch(ours, "author__publisher", "tags", "comments")
    with queries() as q:
        batch(ours, "author__publisher", "tags", "comments", "author")
    assert len(q) == 0


def test_loaded_by_django_is_skipped(batch, data):
    ours = list(Book.objects.select_related("author").prefetch_related("tags").order_by("pk"))
    with queries() as q:
        batch(ours, "author", "tags")
    assert len(q) == 0
    with queries() as q:
        batch(ours, "author__publisher")
    assert len(q) == 1


def test_only_missing_instances_are_queried(batch, data):
    ours = books()
    b1, b2, b3, b4 = ours
    with override_settings(RELATIONS={"PEERS": False}):  # load these two alone
        first = b3.R("author").sync()  # Bob: no other book has him
        b2.R("tags").sync()
    log = SelectLog()
    with queries() as q, connections["default"].execute_wrapper(log):
        batch(ours, "author")
    assert len(q) == 1
    assert set(log.selects[0][1]) == {b1.author_id, b4.author_id}
    assert b3.author is first  # not replaced

    log = SelectLog()
    with queries() as q, connections["default"].execute_wrapper(log):
        batch(ours, "tags")
    assert len(q) == 1
    assert set(log.selects[0][1]) == {b1.pk, b3.pk, b4.pk}


def test_to_many_filled_by_r_is_skipped(batch, data):
    ada = Author.objects.get(name="Ada")
    ada.R("books", queryset=Book.objects.filter(title="B1")).sync()
    with queries() as q:
        batch([ada], "books")
    assert len(q) == 0
    assert [b.title for b in ada.books.all()] == ["B1"]  # Django's rule too: a filled cache is kept


# --- inputs ---------------------------------------------------------------------------------------------


def test_queryset_input_is_evaluated_and_returned_as_list(batch, data):
    with queries() as q:
        result = batch(Book.objects.order_by("pk"), "author", "tags")
    assert len(q) == 3
    assert type(result) is list
    assert [b.title for b in result] == ["B1", "B2", "B3", "B4"]
    with queries() as q:
        assert [b.author.name for b in result] == ["Ada", "Ada", "Bob", "Cy"]
        assert [len(b.tags.all()) for b in result] == [2, 1, 3, 0]
    assert len(q) == 0


def test_queryset_input_keeps_its_own_prefetch_and_select_related(batch, data):
    qs = Book.objects.select_related("author").prefetch_related("tags").order_by("pk")
    with queries() as q:
        result = batch(qs, "author__publisher")
    assert len(q) == 3  # books+authors, tags, publishers
    with queries() as q:
        for b in result:
            assert b.author.publisher is not None or b.author.name == "Cy"
            list(b.tags.all())
    assert len(q) == 0


def test_values_queryset_is_rejected(batch, data):
    with queries() as q, pytest.raises((TypeError, ValueError)):
        batch(Book.objects.values("pk"), "author")
    assert len(q) == 0


def test_empty_inputs(batch, data):
    with queries() as q:
        assert batch([], "author", "tags") == []
        assert batch((), "author") == []
    assert len(q) == 0
    with queries() as q:
        assert batch(Book.objects.none(), "author") == []
    assert len(q) == 0
    with queries() as q:
        assert batch(Book.objects.filter(title="nope"), "author") == []
    assert len(q) == 1


def test_no_lookups_returns_the_list(batch, data):
    ours = books()
    with queries() as q:
        assert batch(ours) == ours
    assert len(q) == 0


@pytest.mark.parametrize("lookup", [3, None, b"author", ["author"], Book])
def test_bad_lookup_type_raises_before_any_query(batch, data, lookup):
    ours = books()
    with queries() as q, pytest.raises(TypeError):
        batch(ours, "author", lookup)
    assert len(q) == 0
    assert not any(Book.author.field.is_cached(b) for b in ours)


@pytest.mark.parametrize("lookup", ["autor", "author__publsher", "title", Prefetch("tagz")])
def test_unknown_lookup_raises_before_any_query(batch, data, lookup):
    ours = books()
    with queries() as q, pytest.raises(UnknownRelation):
        batch(ours, "author", lookup)
    assert len(q) == 0
    assert not any(Book.author.field.is_cached(b) for b in ours)


def test_prefetch_queryset_of_wrong_model_raises_before_any_query(batch, data):
    ours = books()
    with queries() as q, pytest.raises(ValueError):
        batch(ours, "author", Prefetch("tags", queryset=Book.objects.all()))
    assert len(q) == 0
    with queries() as q, pytest.raises(UnknownRelation):
        batch(Book.objects.all(), "authr")
    assert len(q) == 0


@pytest.mark.parametrize("bad", ["books", 3, None, [1, 2], [Book(title="x"), "y"]])
def test_bad_instances_raise_type_error(batch, data, bad):
    with queries() as q, pytest.raises(TypeError):
        batch(bad, "author")
    assert len(q) == 0


def test_generator_input(batch, data):
    ours = books()
    result = batch((b for b in ours), "author")
    assert result == ours
    assert all(Book.author.field.is_cached(b) for b in ours)


def test_duplicates_and_copies_of_one_row(batch, data):
    b1 = Book.objects.get(title="B1")
    copy = Book.objects.get(title="B1")
    with queries() as q:
        batch([b1, copy, b1], "author", "tags")
    assert len(q) == 2
    assert b1.author.pk == copy.author.pk
    assert [t.pk for t in b1.tags.all()] == [t.pk for t in copy.tags.all()]


def test_proxy_and_concrete_instances_share_one_query(batch, data):
    mixed = [Book.objects.get(title="B1"), BookProxy.objects.get(title="B3")]
    with queries() as q:
        batch(mixed, "author")
    assert [b.author.name for b in mixed] == ["Ada", "Bob"]
    assert len(q) == 1, [x["sql"] for x in q.captured_queries]


def test_mixed_models_with_a_common_relation_name(batch, data):
    from tests.testapp.models import Place, Restaurant

    mixed = [Place.objects.get(name="Park"), Restaurant.objects.get()]
    batch(mixed, "owner")
    assert [p.owner.name for p in mixed] == ["Cy", "Ada"]


# --- several databases ------------------------------------------------------------------------------------


@pytest.fixture
def other_books(data: dict[str, Any]) -> list[Book]:
    pub = Publisher.objects.using("other").create(name="Other Pub")
    author = Author.objects.using("other").create(name="Other Author", publisher=pub)
    b = Book.objects.using("other").create(title="Other Book", author=author)
    t = Tag.objects.using("other").create(name="other tag")
    b.tags.add(t)
    Chapter.objects.using("other").create(book=b, number=1)
    warm_contenttypes("other")
    Comment.objects.using("other").create(target=b, text="other comment")
    return list(Book.objects.using("other").all())


@pytest.mark.django_db(databases=["default", "other"])
def test_mixed_databases_each_instance_loads_from_its_own(batch, other_books):
    warm_contenttypes()
    ours = books() + other_books
    with queries() as on_default, CaptureQueriesContext(connections["other"]) as on_other:
        batch(ours, "author__publisher", "tags", "comments", "chapters")
    assert len(on_default) == 5  # authors, publishers, tags, comments, chapters
    assert len(on_other) == 5
    other = ours[-1]
    with queries() as q:
        assert (other.author.name, other.author._state.db) == ("Other Author", "other")
        assert (other.author.publisher.name, other.author.publisher._state.db) == ("Other Pub", "other")
        assert [(t.name, t._state.db) for t in other.tags.all()] == [("other tag", "other")]
        assert [c.text for c in other.comments.all()] == ["other comment"]
        assert [c.number for c in other.chapters.all()] == [1]
        assert [b.author.name for b in ours[:4]] == ["Ada", "Ada", "Bob", "Cy"]
        assert {b.author._state.db for b in ours[:4]} == {"default"}
    assert len(q) == 0


@pytest.mark.django_db(databases=["default", "other"])
def test_queryset_on_other_database(batch, other_books):
    with queries() as on_default, CaptureQueriesContext(connections["other"]) as on_other:
        result = batch(Book.objects.using("other").all(), "author")
    assert len(on_default) == 0
    assert len(on_other) == 2
    assert [b.author.name for b in result] == ["Other Author"]


# --- the loaders themselves (driven by hand) -----------------------------------------------------------


def test_prefetch_loader_yields_querysets_on_the_right_alias(data):
    """A loader yields tasks describing one query each; nothing runs until a driver runs them."""
    from relations.loaders.paths import prefetch_loader
    from relations.loaders.tasks import Fetch

    ours = books()
    loader = prefetch_loader(ours, ("author__publisher",))
    tasks = []
    with queries() as q:
        task = next(loader)
        assert isinstance(task, Fetch) and isinstance(task.queryset, QuerySet)
        assert task.using == "default"
        assert task.queryset.model is Author
        tasks.append(task)
    assert len(q) == 0
    result = list(task.queryset)
    task = loader.send(result)
    assert task.queryset.model is Publisher
    assert not any(Book.author.field.is_cached(b) for b in ours)  # nothing written yet
    with pytest.raises(StopIteration) as stop:
        loader.send(list(task.queryset))
    assert stop.value.value == ours
    assert all(Book.author.field.is_cached(b) for b in ours)


def test_loader_closed_midway_writes_nothing(data):
    from relations.loaders.paths import load_one

    book = Book.objects.get(title="B1")
    loader = load_one(book, "author__publisher")
    task = next(loader)
    task = loader.send(list(task.queryset))
    loader.close()
    assert not Book.author.field.is_cached(book)
