"""plan() on django-ninja schemas and plain pydantic models, for every relation kind.

As for DRF (``test_plan_drf.py``): validating instances loaded with the plan gives
the same data as in lazy mode, with one query per planned path and none while
validating; without the plan raise mode raises ``RelationNotLoaded``.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from pydantic import ValidationError

from relations import UnknownRelation, aprefetch, mode, plan, prefetch
from tests.conftest import queries, run
from tests.plansapp import schemas as s
from tests.testapp.models import Author, Book, Comment, Place, Restaurant, Tag

# schema, model of the rows, model= to give (None: the schema declares it), planned paths
CASES: list[tuple[Any, Any, Any, list[str]]] = [
    (s.BookOut, Book, Book, ["author", "author__publisher", "tags"]),
    (s.BookModelOut, Book, None, ["tags"]),
    (s.AuthorModelOut, Author, None, ["books", "clubs", "profile"]),
    (s.BookCommentsOut, Book, Book, ["comments", "chapters"]),
    (s.CommentTargetOut, Comment, Comment, ["target"]),
    (s.RestaurantOut, Restaurant, Restaurant, ["owner", "owner__publisher"]),
    (s.PlaceOut, Place, None, ["restaurant"]),
    (s.TagBooksOut, Tag, Tag, ["books", "books__tags"]),
    (s.PlainBook, Book, Book, ["author", "author__publisher"]),
]
IDS = [case[0].__name__ for case in CASES]


def canonical(value: Any) -> Any:
    """Dumped data with lists sorted (no model orders its to-many rows)."""
    if isinstance(value, dict):
        return {k: canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return sorted((canonical(v) for v in value), key=repr)
    return value


def dump(schema: Any, objects: list[Any]) -> Any:
    return canonical([schema.model_validate(obj).model_dump() for obj in objects])


def lazy_data(schema: Any, model: Any) -> Any:
    with mode("lazy"):
        return dump(schema, list(model.objects.order_by("pk")))


def expected_queries(model: Any, paths: list[str]) -> int:
    return len(paths) + (1 if model is Comment else 0)  # a GFK: one query per target model


@pytest.fixture(autouse=True)
def _content_types(data: Any) -> None:
    ContentType.objects.get_for_models(Book, Author, Comment)


@pytest.mark.parametrize("schema, model, given, paths", CASES, ids=IDS)
def test_plan_names_what_the_schema_reads(schema, model, given, paths):
    found = plan(schema, model=given)
    assert list(found.paths) == paths
    assert found.model is model
    assert list(plan(list[schema], model=given).paths) == paths


@pytest.mark.parametrize("schema, model, given, paths", CASES, ids=IDS)
def test_prefetch_with_the_plan_gives_lazy_data_in_raise_mode(schema, model, given, paths):
    expected = lazy_data(schema, model)
    objects = list(model.objects.order_by("pk"))
    with queries() as loading:
        prefetch(objects, *plan(schema, model=given))
    assert len(loading) == expected_queries(model, paths), [q["sql"] for q in loading.captured_queries]
    with queries() as validating:
        data = dump(schema, objects)
    assert len(validating) == 0
    assert data == expected


@pytest.mark.parametrize("schema, model, given, paths", CASES, ids=IDS)
def test_aprefetch_with_the_plan(schema, model, given, paths):
    expected = lazy_data(schema, model)

    async def load() -> list[Any]:
        return await aprefetch(model.objects.order_by("pk"), *plan(schema, model=given))

    with queries() as captured:
        objects = run(load)
    assert len(captured) == 1 + expected_queries(model, paths)
    assert dump(schema, objects) == expected


@pytest.mark.parametrize("schema, model, given, paths", CASES, ids=IDS)
def test_without_the_plan_raise_mode_raises(schema, model, given, paths):
    # pydantic wraps any error raised while it reads an attribute in its
    # ValidationError: "Error extracting attribute: RelationNotLoaded: ...".
    with pytest.raises(ValidationError, match="Error extracting attribute: RelationNotLoaded: "):
        dump(schema, list(model.objects.order_by("pk")))


def test_resolvers_and_self_nesting_are_unseen():
    assert plan(s.BookOut, model=Book).unseen == ("BookOut.shout (resolve_shout)",)
    found = plan(s.AuthorMentorOut, model=Author)
    assert list(found.paths) == ["mentor"]
    assert found.unseen == ("AuthorMentorOut (nests itself: its depth depends on the data)",)


def test_meta_hint_and_arguments():
    from ninja import Schema

    class WithHint(Schema):
        id: int

        class Meta:
            plan_lookups = ["reviews"]

    assert list(plan(WithHint, "tags", model=Book).paths) == ["reviews", "tags"]
    with pytest.raises(UnknownRelation):
        plan(WithHint, "tagz", model=Book)
    with pytest.raises(TypeError, match="declares no model"):
        plan(s.BookOut)
    with pytest.raises(ValueError, match="does not match"):
        plan(s.BookModelOut, model=Author)


def test_relation_not_loaded_inside_a_schema_names_the_plan():
    books = list(Book.objects.order_by("pk"))
    with pytest.raises(ValidationError) as raised:
        s.BookModelOut.model_validate(books[0])
    message = str(raised.value)
    assert "This read is inside BookModelOut, whose plan loads it" in message
    assert "await aprefetch(book_list, *plan(BookModelOut))" in message


def test_relation_not_loaded_inside_plain_pydantic_names_the_plan():
    book = Book.objects.order_by("pk").first()
    with pytest.raises(ValidationError) as raised:
        s.PlainBook.model_validate(book)
    assert "This read is inside PlainBook, whose plan loads it" in str(raised.value)
