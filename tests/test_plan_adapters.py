"""The adapters on real requests, in raise mode: DRF generic views and a viewset,
adrf async views, django-ninja async and sync endpoints.

Each response equals the serializer's or schema's output in lazy mode, and the
request runs the page query plus one query per planned path.  Async views run under
Django's ``AsyncClient`` through ``async_to_sync`` (as Django's TestCase does), so
their queries land on this thread's connection and are counted.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.test import AsyncClient, Client
from pydantic import ValidationError

from relations import mode, plan
from tests.conftest import queries, run
from tests.plansapp import api
from tests.plansapp import schemas as sch
from tests.plansapp import serializers as ser
from tests.testapp.models import Author, Book, Comment, Tag

pytestmark = pytest.mark.urls("tests.plansapp.urls")


@pytest.fixture(autouse=True)
def _content_types(data: Any) -> None:
    ContentType.objects.get_for_models(Book, Author, Comment)


def lazy(serializer: Any) -> Any:
    with mode("lazy"):
        return json.loads(json.dumps(serializer(list(Book.objects.order_by("pk")), many=True).data))


def lazy_schema(schema: Any) -> Any:
    with mode("lazy"):
        return [json.loads(schema.model_validate(b).model_dump_json()) for b in Book.objects.order_by("pk")]


def get(path: str) -> tuple[Any, int]:
    with queries() as captured:
        response = Client().get(path, HTTP_ACCEPT="application/json")
    assert response.status_code == 200, response.content
    return response.json(), len(captured)


def aget(path: str) -> tuple[Any, int]:
    async def request() -> Any:
        return await AsyncClient().get(path, HTTP_ACCEPT="application/json")

    with queries() as captured:
        response = run(request)
    assert response.status_code == 200, response.content
    return response.json(), len(captured)


def same_rows(got: object, expected: object) -> bool:
    """Equal up to the order of related lists (an unordered M2M comes back in any order)."""

    def norm(value: object) -> object:
        if isinstance(value, dict):
            return {k: norm(v) for k, v in value.items()}
        if isinstance(value, list):
            return sorted((norm(v) for v in value), key=repr)
        return value

    return norm(got) == norm(expected)


def test_drf_list_view_applies_the_plan_to_its_queryset():
    data, count = get("/drf/books/")
    assert data == lazy(ser.BookSerializer)
    assert count == 1 + len(plan(ser.BookSerializer).paths) == 4


def test_drf_paginated_list_loads_the_page_only():
    data, count = get("/drf/pages/?page=2")
    assert data["count"] == 4
    assert data["results"] == lazy(ser.BookSerializer)[2:4]
    assert count == 2 + 3  # COUNT(*), the page, then one query per planned path


def test_drf_meta_hint_loads_what_a_method_field_reads():
    data, count = get("/drf/review-counts/")
    assert [row["review_count"] for row in data] == [1, 0, 0, 0]
    assert count == 2


def test_drf_viewset_retrieve_create_and_update_answer_with_loaded_relations():
    book = Book.objects.order_by("pk").first()
    assert book is not None
    data, count = get(f"/viewset/books/{book.pk}/")
    assert data["tags"] and data["author"]["publisher"]["name"] == "Penguin"
    assert count == 1 + 3

    tags = [t.pk for t in Tag.objects.order_by("pk")[:2]]
    author = Author.objects.get(name="Bob")
    client = Client()
    created = client.post(
        "/viewset/books/",
        {"title": "New", "author_id": author.pk, "tag_ids": tags},
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["author"]["name"] == "Bob"
    assert sorted(t["id"] for t in created.json()["tags"]) == tags

    updated = client.patch(
        f"/viewset/books/{book.pk}/", {"tag_ids": tags[:1]}, content_type="application/json"
    )
    assert updated.status_code == 200, updated.content
    assert [t["id"] for t in updated.json()["tags"]] == tags[:1]  # fresh, not the stale prefetch


def test_adrf_list_and_detail_load_with_aprefetch():
    expected = lazy(api.ABookSerializer)
    data, count = aget("/adrf/books/")
    assert same_rows(data, expected)
    assert count == 1 + len(plan(api.ABookSerializer).paths) == 4
    pk = expected[0]["id"]
    data, count = aget(f"/adrf/books/{pk}/")
    assert same_rows(data, expected[0])
    assert count == 4


def test_ninja_async_endpoints_load_the_plan_of_their_schema():
    expected = lazy_schema(sch.BookOut)
    data, count = aget("/ninja/books")
    assert same_rows(data, expected)
    assert count == 1 + 3
    data, count = aget(f"/ninja/books/{expected[1]['id']}")
    assert same_rows(data, expected[1])
    assert count == 1 + 3


def test_ninja_aload_helper_and_sync_endpoint():
    data, count = aget("/ninja/model-books")
    assert same_rows(data, lazy_schema(sch.BookModelOut))
    assert count == 2
    data, count = get("/ninja/sync-books")
    assert same_rows(data, lazy_schema(sch.BookOut))
    assert count == 4


def test_ninja_async_endpoint_without_the_plan_fails_with_the_fix():
    async def request() -> Any:
        return await AsyncClient().get("/ninja/unplanned")

    # pydantic wraps the RelationNotLoaded raised while it reads an attribute.
    with pytest.raises(ValidationError, match="RelationNotLoaded") as raised:
        run(request)
    assert "plan(BookOut)" in str(raised.value)
