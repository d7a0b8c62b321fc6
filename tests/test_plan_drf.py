"""plan() on Django REST framework serializers, for every relation kind, in raise mode.

For each serializer: the data serialized from instances loaded with the plan (by
``prefetch()``, ``aprefetch()`` and Django's ``prefetch_related``) equals plain DRF
output in lazy mode; loading costs one query per planned path; serializing then runs
no query; and without the plan raise mode raises ``RelationNotLoaded``.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db.models import Prefetch
from rest_framework import serializers

from relations import RelationNotLoaded, UnknownRelation, aprefetch, mode, plan, prefetch
from tests.conftest import queries, run
from tests.plansapp import serializers as s
from tests.testapp.models import Author, Book, Club, Comment, Place, Restaurant, Tag

# serializer, model whose rows it serializes, planned paths
CASES: list[tuple[Any, Any, list[str]]] = [
    (s.BookSerializer, Book, ["author", "author__publisher", "tags"]),
    (s.AuthorBooksSerializer, Author, ["books", "clubs", "profile"]),
    (s.AuthorProfileSerializer, Author, ["profile", "mentees"]),
    (s.TagBooksSerializer, Tag, ["books", "books__author"]),
    (s.ClubSerializer, Club, ["members"]),
    (s.CommentSerializer, Comment, ["target"]),
    (s.BookCommentsSerializer, Book, ["comments", "chapters", "author"]),
    (s.RestaurantSerializer, Restaurant, ["owner", "owner__publisher"]),
    (s.PlaceSerializer, Place, ["restaurant"]),
    (s.PublisherPkSerializer, Book, ["author"]),
    (s.ReviewCountSerializer, Book, ["reviews"]),
]
IDS = [case[0].__name__ for case in CASES]


def canonical(value: Any) -> Any:
    """DRF data with to-many lists sorted: no model here orders its to-many rows, so
    neither a lazy ``.all()`` nor a prefetch promises an order."""
    if isinstance(value, dict):
        return {k: canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return sorted((canonical(v) for v in value), key=repr)
    return value


def lazy_data(serializer: Any, model: Any) -> Any:
    with mode("lazy"):
        return canonical(serializer(list(model.objects.order_by("pk")), many=True).data)


def expected_queries(model: Any, paths: list[str]) -> int:
    # A generic foreign key runs one query per target model (comments on books and authors).
    return len(paths) + (1 if model is Comment else 0)


@pytest.fixture(autouse=True)
def _content_types(data: Any) -> None:
    # Content types are cached by Django on first use: warm the cache so counts are stable.
    ContentType.objects.get_for_models(Book, Author, Comment)


@pytest.mark.parametrize("serializer, model, paths", CASES, ids=IDS)
def test_plan_names_what_the_serializer_reads(serializer, model, paths):
    found = plan(serializer)
    assert list(found.paths) == paths
    assert found.model is model
    assert plan(serializer()) == found
    assert list(plan(serializer(many=True)).paths) == paths


@pytest.mark.parametrize("serializer, model, paths", CASES, ids=IDS)
def test_prefetch_with_the_plan_gives_lazy_data_in_raise_mode(serializer, model, paths):
    expected = lazy_data(serializer, model)
    objects = list(model.objects.order_by("pk"))
    with queries() as loading:
        prefetch(objects, *plan(serializer))
    assert len(loading) == expected_queries(model, paths), [q["sql"] for q in loading.captured_queries]
    with queries() as serializing:
        data = serializer(objects, many=True).data
    assert len(serializing) == 0
    assert canonical(data) == expected


@pytest.mark.parametrize("serializer, model, paths", CASES, ids=IDS)
def test_prefetch_related_with_the_plan(serializer, model, paths):
    expected = lazy_data(serializer, model)
    with queries() as captured:
        data = serializer(model.objects.order_by("pk").prefetch_related(*plan(serializer)), many=True).data
    assert len(captured) == 1 + expected_queries(model, paths)
    assert canonical(data) == expected


@pytest.mark.parametrize("serializer, model, paths", CASES, ids=IDS)
def test_aprefetch_with_the_plan(serializer, model, paths):
    expected = lazy_data(serializer, model)

    async def load() -> list[Any]:
        return await aprefetch(model.objects.order_by("pk"), *plan(serializer))

    with queries() as captured:
        objects = run(load)
    assert len(captured) == 1 + expected_queries(model, paths)
    assert canonical(serializer(objects, many=True).data) == expected


@pytest.mark.parametrize("serializer, model, paths", CASES, ids=IDS)
def test_without_the_plan_raise_mode_raises(serializer, model, paths):
    with pytest.raises(RelationNotLoaded):
        serializer(list(model.objects.order_by("pk")), many=True).data  # noqa: B018


def test_a_nested_serializers_relations_are_longer_paths():
    assert plan(s.BookSerializer) == ("author", "author__publisher", "tags")


def test_paths_load_beyond_a_relation_that_is_already_loaded():
    # As after DRF's create(): book.author was assigned, its publisher was not loaded.
    # A Prefetch("author", queryset=...) would be skipped with its inner lookups; a path is not.
    book = Book.objects.get(title="B1")
    book.author = Author.objects.get(pk=book.author_id)
    with queries() as captured:
        prefetch([book], *plan(s.BookSerializer))
    assert len(captured) == 2  # the author's publisher, the tags
    assert s.BookSerializer(book).data["author"]["publisher"]["name"] == "Penguin"


def test_pk_only_fields_add_nothing_for_a_forward_key_but_load_to_many_and_reverse():
    class Keys(serializers.ModelSerializer):
        class Meta:
            model = Book
            fields = ["id", "author", "editor", "tags", "reviews"]

    class HyperKeys(serializers.ModelSerializer):
        author = serializers.HyperlinkedRelatedField(view_name="x", read_only=True)
        editor = serializers.HyperlinkedRelatedField(view_name="x", read_only=True, lookup_field="name")

        class Meta:
            model = Book
            fields = ["author", "editor"]

    assert list(plan(Keys).paths) == ["tags", "reviews"]
    # DRF's own pk-only optimisation: a hyperlink by pk reads the key; by another field, the object.
    assert list(plan(HyperKeys).paths) == ["editor"]


def test_what_the_plan_cannot_see_is_listed():
    assert plan(s.BookSerializer).unseen == ("BookSerializer.blurb (SerializerMethodField, source='*')",)
    assert plan(s.ReviewCountSerializer).unseen == (
        "ReviewCountSerializer.review_count (SerializerMethodField, source='*')",
    )

    class ByMethod(serializers.ModelSerializer):
        url = serializers.CharField(source="get_absolute_url", read_only=True)

        class Meta:
            model = Book
            fields = ["url"]

    Book.get_absolute_url = lambda self: "/"  # type: ignore[attr-defined]
    try:
        assert plan(ByMethod).unseen == ("ByMethod.url (source='get_absolute_url' is a method or property)",)
    finally:
        del Book.get_absolute_url  # type: ignore[attr-defined]


def test_extra_lookups_and_prefetch_objects():
    assert list(plan(s.BookSerializer, "reviews", "editor__profile").paths) == [
        "author",
        "author__publisher",
        "tags",
        "reviews",
        "editor",
        "editor__profile",
    ]
    mine = Prefetch("tags", queryset=Tag.objects.order_by("-name"))
    found = plan(s.BookSerializer, mine)
    assert found[-1] is mine and "tags" not in found
    deep = Prefetch("author__publisher", queryset=s.Publisher.objects.all())
    found = plan(s.BookSerializer, deep)
    assert list(found) == ["author", "tags", deep]


def test_plain_serializer_needs_a_model_and_bad_input_is_a_clear_error():
    assert list(plan(s.PlainBookSerializer, model=Book).paths) == ["author"]
    with pytest.raises(TypeError, match="declares no model"):
        plan(s.PlainBookSerializer)
    with pytest.raises(ValueError, match="does not match"):
        plan(s.BookSerializer, model=Author)
    with pytest.raises(TypeError, match="plan\\(\\) takes"):
        plan(42)
    with pytest.raises(UnknownRelation, match="Did you mean"):
        plan(s.BookSerializer, "tagz")

    class BadHint(serializers.ModelSerializer):
        class Meta:
            model = Book
            fields = ["id"]
            plan_lookups = ["nope"]

    with pytest.raises(UnknownRelation):
        plan(BadHint)


def test_relation_not_loaded_inside_a_serializer_names_the_plan():
    books = list(Book.objects.order_by("pk"))
    prefetch(books, "author")  # forgot the rest
    with pytest.raises(RelationNotLoaded) as raised:
        s.BookSerializer(books, many=True).data  # noqa: B018
    message = str(raised.value)
    assert "This read is inside BookSerializer, whose plan loads it" in message
    assert ".prefetch_related(*plan(BookSerializer)) on the Book queryset" in message


def test_a_read_outside_any_serializer_has_no_plan_line():
    book = Book.objects.order_by("pk").first()
    with pytest.raises(RelationNotLoaded) as raised:
        book.author  # noqa: B018
    assert "plan(" not in str(raised.value)
