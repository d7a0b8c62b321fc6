"""R(): every relation kind through its three faces, caching, paths, errors, databases.

Each behaviour runs through ``await obj.R(path)``, ``obj.R(path).sync()`` and
``await R(obj, path)`` (the async faces through ``run()``, so the thread driver's
queries land on this thread's connection and are counted by ``queries()``).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import FieldDoesNotExist, ObjectDoesNotExist
from django.db import connections
from django.db.models import Model, Prefetch, prefetch_related_objects
from django.test.utils import CaptureQueriesContext, override_settings

from relations import R, RelationLoad, RelationNotLoaded, UnknownRelation, mode
from tests.conftest import queries, run
from tests.loader_helpers import STYLES, load, related_pks, snapshot, warm_contenttypes
from tests.testapp.models import (
    Author,
    Book,
    Chapter,
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

pytestmark = pytest.mark.parametrize("style", STYLES)


def nk(obj: Any) -> Any:
    """A natural key to compare instances by: (model name, a readable field)."""
    if obj is None:
        return None
    if isinstance(obj, list):
        return [nk(o) for o in obj]
    field = {
        Profile: "bio",
        Comment: "text",
        Membership: "role",
        Review: "stars",
        Chapter: "number",
        User: "username",
        ContentType: "model",
    }.get(type(obj))
    if field is None:
        field = "title" if isinstance(obj, Book) else "name"
    return (type(obj).__name__, getattr(obj, field))


@pytest.fixture
def ct_warm(data: dict[str, Any]) -> None:
    warm_contenttypes()


# --- every relation kind -----------------------------------------------------------------------------

# (id, model, get() kwargs of the instance, path, expected natural key(s), queries, cache key for to-many)
KINDS: list[tuple[str, type[Model], dict[str, Any], str, Any, int]] = [
    ("forward_fk", Book, {"title": "B1"}, "author", ("Author", "Ada"), 1),
    ("forward_fk_self", Author, {"name": "Bob"}, "mentor", ("Author", "Ada"), 1),
    ("null_fk", Author, {"name": "Cy"}, "publisher", None, 0),
    ("null_fk_nullable_editor", Book, {"title": "B2"}, "editor", None, 0),
    ("forward_o2o", Profile, {"bio": "ada bio"}, "author", ("Author", "Ada"), 1),
    ("reverse_o2o", Author, {"name": "Ada"}, "profile", ("Profile", "ada bio"), 1),
    ("reverse_o2o_missing", Author, {"name": "Bob"}, "profile", None, 1),
    ("mti_parent_link", Restaurant, {"name": "Luigi's"}, "place_ptr", ("Place", "Luigi's"), 0),
    ("mti_child_reverse", Place, {"name": "Luigi's"}, "restaurant", ("Restaurant", "Luigi's"), 1),
    ("mti_child_reverse_missing", Place, {"name": "Park"}, "restaurant", None, 1),
    ("mti_inherited_fk", Restaurant, {"name": "Luigi's"}, "owner", ("Author", "Ada"), 1),
    ("abstract_inherited_fk", Review, {"stars": 5}, "created_by", ("Author", "Bob"), 1),
    ("reverse_fk", Author, {"name": "Ada"}, "books", [("Book", "B1"), ("Book", "B2")], 1),
    ("reverse_fk_empty", Author, {"name": "Cy"}, "mentees", [], 1),
    ("reverse_fk_self", Author, {"name": "Ada"}, "mentees", [("Author", "Bob")], 1),
    ("reverse_fk_abstract", Author, {"name": "Bob"}, "review_created", [("Review", 5)], 1),
    ("reverse_fk_to_through", Author, {"name": "Ada"}, "membership_set", [("Membership", "chair")], 1),
    ("m2m", Book, {"title": "B3"}, "tags", [("Tag", "sf"), ("Tag", "poetry"), ("Tag", "essay")], 1),
    ("m2m_empty", Book, {"title": "B4"}, "tags", [], 1),
    ("m2m_reverse", Tag, {"name": "sf"}, "books", [("Book", "B1"), ("Book", "B3")], 1),
    ("m2m_through", Club, {"name": "Inklings"}, "members", [("Author", "Ada"), ("Author", "Bob")], 1),
    ("m2m_through_reverse", Author, {"name": "Bob"}, "clubs", [("Club", "Inklings")], 1),
    (
        "generic_relation",
        Book,
        {"title": "B1"},
        "comments",
        [("Comment", "on b1"), ("Comment", "again b1")],
        1,
    ),
    ("generic_relation_empty", Book, {"title": "B2"}, "comments", [], 1),
    ("gfk_to_book", Comment, {"text": "on b1"}, "target", ("Book", "B1"), 1),
    ("gfk_to_author", Comment, {"text": "on bob"}, "target", ("Author", "Bob"), 1),
    ("gfk_null", Comment, {"text": "orphan, no target"}, "target", None, 0),
]


def _sorted(value: Any) -> Any:
    return sorted(value, key=repr) if isinstance(value, list) else value


@pytest.mark.parametrize(
    ("model", "lookup", "path", "expected", "count"),
    [case[1:] for case in KINDS],
    ids=[case[0] for case in KINDS],
)
def test_every_relation_kind(style, ct_warm, model, lookup, path, expected, count):
    obj = model.objects.get(**lookup)
    with queries() as q:
        value = load(style, obj, path)
    assert len(q) == count, [x["sql"] for x in q.captured_queries]

    # Return type: list for to-many, instance or None for to-one.
    if isinstance(expected, list):
        assert type(value) is list
        assert _sorted(nk(value)) == _sorted(expected)
    elif expected is None:
        assert value is None
    else:
        assert isinstance(value, Model)
        assert nk(value) == expected

    # Plain access afterwards: no query, same objects.
    with queries() as q:
        if isinstance(expected, list):
            manager = getattr(obj, path)
            assert path in obj._prefetched_objects_cache
            assert list(manager.all()) == value
            assert [a is b for a, b in zip(manager.all(), value, strict=True)] == [True] * len(value)
            assert manager.count() == len(value)
            assert manager.exists() is bool(value)
        elif expected is None and model is not Comment and path in ("profile", "restaurant"):
            with pytest.raises(ObjectDoesNotExist):  # Django's own answer for "no row"
                getattr(obj, path)
        else:
            assert getattr(obj, path) is value
    assert len(q) == 0, [x["sql"] for x in q.captured_queries]

    # Idempotent: a second R() is served from the cache.
    with queries() as q:
        again = load(style, obj, path)
    assert len(q) == 0
    if isinstance(value, list):
        assert again == value and all(a is b for a, b in zip(again, value, strict=True))
    else:
        assert again is value


def test_reverse_o2o_caches_both_sides(style, data):
    profile = Profile.objects.get()
    author = load(style, profile, "author")
    with queries() as q:
        assert author.profile is profile
    assert len(q) == 0
    ada = Author.objects.get(name="Ada")
    loaded = load(style, ada, "profile")
    with queries() as q:
        assert loaded.author is ada
    assert len(q) == 0


def test_reverse_fk_rows_point_back(style, data):
    ada = Author.objects.get(name="Ada")
    books = load(style, ada, "books")
    with queries() as q:
        assert all(b.author is ada for b in books)
    assert len(q) == 0


def test_gfk_dangling_target_is_none(style, data):
    warm_contenttypes()
    missing_pk = max(b.pk for b in data["books"]) + 1000
    comment = Comment.objects.create(
        content_type=ContentType.objects.get_for_model(Book), object_id=missing_pk, text="dangling"
    )
    comment = Comment.objects.get(pk=comment.pk)
    with queries() as q:
        assert load(style, comment, "target") is None
    assert len(q) == 1
    with queries() as q:
        assert comment.target is None
        assert load(style, comment, "target") is None
    assert len(q) == 0


def test_gfk_cold_contenttype_cache(style, data):
    """The ContentType lookups a generic relation needs also run through the driver."""
    comment = Comment.objects.get(text="on b1")
    book = Book.objects.get(title="B1")
    ContentType.objects.clear_cache()
    with queries() as q:
        target = load(style, comment, "target")
    assert nk(target) == ("Book", "B1")
    assert len(q) == 2  # the content type, the book
    ContentType.objects.clear_cache()
    with queries() as q:
        comments = load(style, book, "comments")
    assert len(comments) == 2
    assert len(q) == 2  # the content type, the comments
    with queries() as q:
        assert comment.target is target
        assert len(book.comments.all()) == 2
    assert len(q) == 0


def test_contrib_user_groups(style, data):
    user = User.objects.create(username="u1")
    g1 = Group.objects.create(name="editors")
    g2 = Group.objects.create(name="readers")
    Group.objects.create(name="nobody")
    user.groups.set([g1, g2])
    perm = Permission.objects.filter(codename="add_book").get()
    g1.permissions.add(perm)
    user = User.objects.get(pk=user.pk)
    with queries() as q:
        groups = load(style, user, "groups")
    assert len(q) == 1
    assert sorted(g.name for g in groups) == ["editors", "readers"]
    with queries() as q:
        assert list(user.groups.all()) == groups
        assert user.groups.count() == 2
    assert len(q) == 0

    g1 = Group.objects.get(pk=g1.pk)
    with queries() as q:
        users = load(style, g1, "user_set")
        perms = load(style, g1, "permissions")
    assert len(q) == 2
    assert [u.username for u in users] == ["u1"]
    assert [p.codename for p in perms] == ["add_book"]
    # Django keys the reverse many-to-many by the related query name ("user").
    assert "user" in g1._prefetched_objects_cache
    with queries() as q:
        assert list(g1.user_set.all()) == users
    assert len(q) == 0

    perm = Permission.objects.get(pk=perm.pk)
    with queries() as q:
        ct = load(style, perm, "content_type")
    assert len(q) == 1
    assert (ct.app_label, ct.model) == ("testapp", "book")
    with queries() as q:
        assert perm.content_type is ct
    assert len(q) == 0


# --- caching, refresh, queryset= ---------------------------------------------------------------------


def test_refresh_reloads_to_many(style, data):
    ada = Author.objects.get(name="Ada")
    assert len(load(style, ada, "books")) == 2
    Book.objects.create(title="B5", author=ada)
    with queries() as q:
        assert len(load(style, ada, "books")) == 2  # cached: the new row is not seen
    assert len(q) == 0
    with queries() as q:
        books = load(style, ada, "books", refresh=True)
    assert len(q) == 1
    assert sorted(b.title for b in books) == ["B1", "B2", "B5"]
    with queries() as q:
        assert sorted(b.title for b in ada.books.all()) == ["B1", "B2", "B5"]
        assert ada.books.count() == 3
    assert len(q) == 0


def test_refresh_reloads_to_one_and_every_hop(style, data):
    book = Book.objects.get(title="B1")
    author = load(style, book, "author")
    load(style, book, "author__publisher")
    Author.objects.filter(pk=author.pk).update(name="Ada II")
    Publisher.objects.filter(name="Penguin").update(name="Penguin II")
    with queries() as q:
        assert load(style, book, "author").name == "Ada"
    assert len(q) == 0
    with queries() as q:
        fresh = load(style, book, "author", refresh=True)
    assert len(q) == 1
    assert fresh.name == "Ada II" and fresh is not author
    with queries() as q:
        assert book.author is fresh
    assert len(q) == 0
    with queries() as q:
        pub = load(style, book, "author__publisher", refresh=True)
    assert len(q) == 2
    assert pub.name == "Penguin II"
    assert book.author.publisher is pub


def test_refresh_must_be_bool(style, data):
    book = Book.objects.get(title="B1")
    with queries() as q, pytest.raises(TypeError):
        load(style, book, "author", refresh="yes")
    assert len(q) == 0


def test_queryset_narrows_to_many(style, data):
    ada = Author.objects.get(name="Ada")
    with queries() as q:
        books = load(style, ada, "books", queryset=Book.objects.filter(title="B1"))
    assert len(q) == 1
    assert [b.title for b in books] == ["B1"]
    with queries() as q:
        assert [b.title for b in ada.books.all()] == ["B1"]
        assert ada.books.count() == 1
    assert len(q) == 0


def test_queryset_ordering_is_kept(style, data):
    ada = Author.objects.get(name="Ada")
    books = load(style, ada, "books", queryset=Book.objects.order_by("-title"))
    assert [b.title for b in books] == ["B2", "B1"]
    with queries() as q:
        assert [b.title for b in ada.books.all()] == ["B2", "B1"]
    assert len(q) == 0


def test_queryset_narrows_m2m_and_matches_django(style, data):
    book = Book.objects.get(title="B3")
    tags = load(style, book, "tags", queryset=Tag.objects.exclude(name="poetry"))
    assert sorted(t.name for t in tags) == ["essay", "sf"]
    theirs = Book.objects.get(title="B3")
    prefetch_related_objects([theirs], Prefetch("tags", queryset=Tag.objects.exclude(name="poetry")))
    assert related_pks([book], "tags") == related_pks([theirs], "tags")


def test_queryset_on_last_hop_of_a_path(style, data):
    ada = Author.objects.get(name="Ada")
    tags = load(style, ada, "books__tags", queryset=Tag.objects.filter(name="sf"))
    assert [t.name for t in tags] == ["sf"]
    with queries() as q:
        by_title = {b.title: [t.name for t in b.tags.all()] for b in ada.books.all()}
    assert len(q) == 0
    assert by_title == {"B1": ["sf"], "B2": []}


def test_queryset_of_wrong_model_raises_before_any_query(style, data):
    ada = Author.objects.get(name="Ada")
    with queries() as q:
        with pytest.raises(ValueError, match="Book"):
            load(style, ada, "books", queryset=Tag.objects.all())
        with pytest.raises(ValueError, match="Tag"):
            load(style, ada, "books__tags", queryset=Book.objects.all())
        with pytest.raises(TypeError):
            load(style, ada, "books", queryset=[1, 2])
        with pytest.raises(ValueError):
            load(style, ada, "books", queryset=Book.objects.values("pk"))
    assert len(q) == 0
    assert "books" not in getattr(ada, "_prefetched_objects_cache", {})


# --- paths -----------------------------------------------------------------------------------------


def test_path_two_forward_hops(style, data):
    book = Book.objects.get(title="B1")
    with queries() as q:
        pub = load(style, book, "author__publisher")
    assert len(q) == 2
    assert nk(pub) == ("Publisher", "Penguin")
    assert Book.author.field.is_cached(book)
    with queries() as q:
        assert book.author.publisher is pub
        assert load(style, book, "author__publisher") is pub
        assert load(style, book, "author").publisher is pub
    assert len(q) == 0


def test_path_reuses_loaded_hops(style, data):
    book = Book.objects.get(title="B1")
    load(style, book, "author")
    with queries() as q:
        load(style, book, "author__publisher")
    assert len(q) == 1


def test_path_through_null_fk(style, data):
    book = Book.objects.get(title="B4")
    with queries() as q:
        assert load(style, book, "author__publisher") is None
    assert len(q) == 1
    assert book.author.name == "Cy"
    assert book.author.publisher is None


def test_path_with_to_many_hop_is_distinct_list(style, data):
    ada = Author.objects.get(name="Ada")
    with queries() as q:
        tags = load(style, ada, "books__tags")
    assert len(q) == 2
    assert type(tags) is list
    assert sorted(t.name for t in tags) == ["poetry", "sf"]  # poetry is on B1 and B2: once
    with queries() as q:
        for book in ada.books.all():
            list(book.tags.all())
    assert len(q) == 0


def test_path_many_then_one_distinct(style, data):
    poetry = Tag.objects.get(name="poetry")  # B1, B2 (Ada) and B3 (Bob)
    with queries() as q:
        authors = load(style, poetry, "books__author")
    assert len(q) == 2
    assert sorted(a.name for a in authors) == ["Ada", "Bob"]


def test_path_three_hops(style, data):
    penguin = Publisher.objects.get(name="Penguin")
    with queries() as q:
        tags = load(style, penguin, "authors__books__tags")
    assert len(q) == 3
    assert sorted(t.name for t in tags) == ["poetry", "sf"]


def test_path_after_generic_foreign_key(style, ct_warm):
    comments = list(Comment.objects.filter(text__in=["on b1", "again b1"]).order_by("pk"))
    with queries() as q:
        author = load(style, comments[0], "target__author")
    assert len(q) == 2
    assert nk(author) == ("Author", "Ada")
    with queries() as q:
        assert comments[0].target.author is author
    assert len(q) == 0
    with queries() as q:
        tags = load(style, comments[1], "target__tags")
    assert len(q) == 1  # its target came with its peer's (RELATIONS["PEERS"]): only the tags
    assert sorted(t.name for t in tags) == ["poetry", "sf"]


def test_path_to_many_then_generic_foreign_key(style, ct_warm):
    book = Book.objects.get(title="B1")
    with queries() as q:
        targets = load(style, book, "comments__target")
    assert len(q) == 2
    assert [(type(t).__name__, t.pk) for t in targets] == [("Book", book.pk)]


def test_unknown_hop_after_gfk_writes_nothing(style, ct_warm):
    comment = Comment.objects.get(text="on b1")
    with pytest.raises(UnknownRelation) as exc:
        load(style, comment, "target__nonsense")
    assert isinstance(exc.value, FieldDoesNotExist)
    assert not Comment._meta.get_field("target").is_cached(comment)
    with pytest.raises(RelationNotLoaded):
        comment.target  # noqa: B018


# --- errors before any query -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["autor", "title", "author_id", "author__publsher", "author__name", "tags__books__nope", "x__author"],
)
def test_unknown_relation_before_any_query(style, data, path):
    book = Book.objects.get(title="B1")
    with queries() as q, pytest.raises(UnknownRelation):
        load(style, book, path)
    assert len(q) == 0
    assert not Book.author.field.is_cached(book)


@pytest.mark.parametrize("path", ["", "author__", "__author", "author____publisher"])
def test_malformed_path(style, data, path):
    book = Book.objects.get(title="B1")
    with queries() as q, pytest.raises((ValueError, UnknownRelation)):
        load(style, book, path)
    assert len(q) == 0


@pytest.mark.parametrize("bad", [None, 3, b"author", ["author"]])
def test_non_str_path_is_type_error(style, data, bad):
    book = Book.objects.get(title="B1")
    with queries() as q, pytest.raises(TypeError):
        load(style, book, bad)
    assert len(q) == 0


def test_non_instance_is_type_error(style, data):
    with queries() as q:
        for bad in ("book", None, Book, Book.objects.all(), 42):
            with pytest.raises(TypeError):
                if style == "sync":
                    R(bad, "author").sync()
                else:

                    async def go(bad: Any = bad) -> Any:
                        return await R(bad, "author")

                    run(go)
    assert len(q) == 0


# --- unsaved instances ------------------------------------------------------------------------------


def _django_error(obj: Model, name: str) -> BaseException | None:
    """What Django itself raises when reading the to-many ``name`` of ``obj``."""
    with mode("lazy"):
        try:
            list(getattr(obj, name).all())
        except BaseException as exc:
            return exc
    return None


@pytest.mark.parametrize(
    ("model", "kwargs", "path"),
    [
        (Author, {"name": "new"}, "books"),
        (Author, {"name": "new"}, "clubs"),
        (Book, {"title": "new"}, "tags"),
        (Tag, {"name": "new"}, "books"),
        (Club, {"name": "new"}, "members"),
        (User, {"username": "new"}, "groups"),
    ],
)
@pytest.mark.parametrize("refresh", [False, True])
def test_to_many_on_unsaved_instance_raises_djangos_value_error(style, data, model, kwargs, path, refresh):
    expected = _django_error(model(**kwargs), path)
    assert isinstance(expected, ValueError)
    obj = model(**kwargs)
    with queries() as q, pytest.raises(ValueError) as exc:
        load(style, obj, path, refresh=refresh)
    assert len(q) == 0
    assert str(exc.value) == str(expected)


def test_generic_relation_on_unsaved_instance_behaves_like_django(style, ct_warm):
    expected = _django_error(Book(title="new"), "comments")
    obj = Book(title="new")
    if expected is None:
        with mode("lazy"):
            djangos = list(Book(title="new").comments.all())
        assert load(style, obj, "comments") == djangos
    else:
        with pytest.raises(type(expected)) as exc:
            load(style, obj, "comments")
        assert str(exc.value) == str(expected)


def test_forward_fk_on_unsaved_instance_with_id(style, data):
    ada = data["authors"][0]
    book = Book(title="draft", author_id=ada.pk)
    with queries() as q:
        author = load(style, book, "author")
    assert len(q) == 1
    assert author.pk == ada.pk and author.name == "Ada"
    with queries() as q:
        assert book.author is author
    assert len(q) == 0


def test_to_one_on_unsaved_instance_without_id(style, data):
    with queries() as q:
        assert load(style, Book(title="draft"), "author") is None
        assert load(style, Book(title="draft"), "editor") is None
        assert load(style, Author(name="new"), "profile") is None
        assert load(style, Comment(text="new"), "target") is None
    assert len(q) == 0


# --- managers and deferred columns ---------------------------------------------------------------


def test_custom_default_manager_is_respected(style, data):
    book = Book.objects.get(title="B1")
    assert Chapter.all_objects.filter(book=book).count() == 2
    chapters = load(style, book, "chapters")
    assert [(c.number, c.deleted) for c in chapters] == [(1, False)]
    with mode("lazy"):
        djangos = list(Book.objects.get(title="B1").chapters.all())
    assert [c.pk for c in chapters] == [c.pk for c in djangos]
    with queries() as q:
        assert book.chapters.count() == 1
    assert len(q) == 0


def test_deferred_fk_column(style, data):
    book = Book.objects.only("title").get(title="B1")
    assert "author_id" in book.get_deferred_fields()
    with queries() as q:
        author = load(style, book, "author")
    assert len(q) == 2  # the deferred column, then the author (as Django does)
    assert author.name == "Ada"
    with queries() as q:
        assert book.author_id == author.pk
        assert book.author is author
    assert len(q) == 0


def test_deferred_parent_fields_of_mti_child(style, data):
    restaurant = Restaurant.objects.only("serves_pizza").get()
    with queries() as q:
        place = load(style, restaurant, "place_ptr")
    assert len(q) == 1
    assert type(place) is Place and place.name == "Luigi's"
    with queries() as q:
        assert restaurant.place_ptr is place
    assert len(q) == 0


def test_relation_load_object(style, data):
    book = Book.objects.get(title="B1")
    pending = book.R("author")
    assert isinstance(pending, RelationLoad)
    assert "Book" in repr(pending) and "author" in repr(pending)
    assert R(book, "author").path == "author"
    # Nothing runs until awaited or .sync(): creating it costs no query.
    with queries() as q:
        book.R("author__publisher")
    assert len(q) == 0
    assert not Book.author.field.is_cached(book)
    # It can be run more than once.
    first = load(style, book, "author")
    assert pending.sync() is first


# --- databases and routers --------------------------------------------------------------------------


class MapRouter:
    """Routes reads of the listed models to a fixed alias; everything else is default."""

    def __init__(self, routes: dict[type[Model], str]) -> None:
        self.routes = routes

    def db_for_read(self, model: type[Model], **hints: Any) -> str | None:
        return self.routes.get(model)

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool:
        return True  # rows of one database may point at rows of the other


@pytest.fixture
def other_data(data: dict[str, Any]) -> dict[str, Any]:
    """A second bookstore on "other" whose primary keys mirror the default one's."""
    ada, bob = data["authors"][0], data["authors"][1]
    b1 = data["books"][0]
    sf = data["tags"][0]
    pub = Publisher.objects.using("other").create(pk=ada.publisher_id, name="Other Penguin")
    oada = Author.objects.using("other").create(pk=ada.pk, name="Other Ada", publisher=pub)
    obob = Author.objects.using("other").create(pk=bob.pk, name="Other Bob")
    ob1 = Book.objects.using("other").create(pk=b1.pk, title="Other B1", author=oada, editor=obob)
    ob9 = Book.objects.using("other").create(title="Other B9", author=oada)
    otag = Tag.objects.using("other").create(pk=sf.pk, name="other sf")
    ob1.tags.add(otag)
    ob9.tags.add(otag)
    Chapter.objects.using("other").create(book=ob1, number=7)
    Chapter.objects.using("other").create(book=ob1, number=8, deleted=True)
    Profile.objects.using("other").create(author=oada, bio="other bio")
    warm_contenttypes("other")
    Comment.objects.using("other").create(target=ob1, text="other comment")
    return {"author": oada, "book": ob1, "book9": ob9, "tag": otag}


OTHER_PATHS = [
    ("author", "Other Ada"),
    ("author__publisher", "Other Penguin"),
    ("author__profile", "other bio"),
    ("tags", ["other sf"]),
    ("tags__books", ["Other B1", "Other B9"]),
    ("chapters", [7]),
    ("comments", ["other comment"]),
    ("comments__target", ["Other B1"]),
    ("editor__edited_books", ["Other B1"]),
]


def _label(value: Any) -> Any:
    if isinstance(value, list):
        return sorted(_label(v) for v in value)
    return nk(value)[1]


@pytest.mark.django_db(databases=["default", "other"])
@pytest.mark.parametrize(("path", "expected"), OTHER_PATHS, ids=[p for p, _ in OTHER_PATHS])
def test_loads_use_the_instances_database(style, other_data, path, expected):
    warm_contenttypes()
    book = Book.objects.using("other").get(title="Other B1")
    with queries() as on_default, CaptureQueriesContext(connections["other"]) as on_other:
        value = load(style, book, path)
    assert len(on_default) == 0, [x["sql"] for x in on_default.captured_queries]
    assert len(on_other) == len(path.split("__"))
    assert _label(value) == expected
    values = value if isinstance(value, list) else [value]
    assert all(v._state.db == "other" for v in values)


def _counts(fn: Any) -> tuple[Any, int, int]:
    with queries() as d, CaptureQueriesContext(connections["other"]) as o:
        value = fn()
    return value, len(d), len(o)


ROUTED = [
    # (routes, model, get kwargs, path)
    ({Author: "other"}, Book, {"title": "B1"}, "author"),
    ({Author: "other"}, Book, {"title": "B1"}, "editor"),
    ({Publisher: "other"}, Author, {"name": "Ada"}, "publisher"),
    ({Book: "other"}, Author, {"name": "Ada"}, "books"),
    ({Profile: "other"}, Author, {"name": "Ada"}, "profile"),
    ({Tag: "other"}, Book, {"title": "B1"}, "tags"),
    ({Chapter: "other"}, Book, {"title": "B1"}, "chapters"),
]


@pytest.mark.django_db(databases=["default", "other"])
@pytest.mark.parametrize(
    ("routes", "model", "lookup", "path"),
    ROUTED,
    ids=[f"{r[1].__name__}.{r[3]}" for r in ROUTED],
)
def test_database_routers_are_honoured_like_django(style, other_data, routes, model, lookup, path):
    """Reads go where Django's own descriptors would send them under the same routers."""
    with override_settings(DATABASE_ROUTERS=[MapRouter(routes)]):
        ours = model.objects.get(**lookup)
        theirs = model.objects.get(**lookup)
        value, ours_default, ours_other = _counts(lambda: load(style, ours, path))

        def django_lazy() -> Any:
            with mode("lazy"):
                try:
                    attr = getattr(theirs, path)
                except ObjectDoesNotExist:
                    return None
                return list(attr.all()) if hasattr(attr, "all") and not isinstance(attr, Model) else attr

        expected, theirs_default, theirs_other = _counts(django_lazy)
    assert (ours_default, ours_other) == (theirs_default, theirs_other)
    assert ours_other == 1  # the router sent the read to "other"
    assert snapshot(value, depth=0) == snapshot(expected, depth=0)


@pytest.mark.django_db(databases=["default", "other"])
def test_router_sends_forward_fk_read_elsewhere(style, other_data):
    with override_settings(DATABASE_ROUTERS=[MapRouter({Author: "other"})]):
        book = Book.objects.get(title="B1")
        assert book._state.db == "default"
        author = load(style, book, "author")
    assert (author.name, author._state.db) == ("Other Ada", "other")


def test_a_to_many_path_through_a_null_hop_is_an_empty_list(style, data):
    book = Book.objects.get(title="B2")  # no editor
    assert load(style, book, "editor__books") == []
    assert load(style, book, "editor__profile") is None
    assert load(style, book, "editor") is None
