"""The page of books as JSON, twice: a DRF view and a django-ninja endpoint.

Both read the same relations as the HTML pages (``views.py``): each book's author and
the author's publisher, and the book's tags by name.  Neither view names them:
``plan()`` reads them off the serializer and the schema (``author``,
``author__publisher``, ``tags``), and the tags' ``Prefetch`` orders that one level.
Each request runs four queries: the books, then one per planned path.  In raise mode a
relation the plan did not load would be an error, not a hidden query per row.
"""

from __future__ import annotations

from typing import Any

from ninja import NinjaAPI, Schema
from rest_framework import generics, serializers
from rest_framework.renderers import JSONRenderer

from relations.contrib.drf import PlannedQuerysetMixin
from relations.contrib.ninja import planned

from .models import Author, Book, Publisher
from .views import PAGE_SIZE, tags_by_name


class PublisherSerializer(serializers.ModelSerializer):
    class Meta:
        model = Publisher
        fields = ["id", "name"]


class AuthorSerializer(serializers.ModelSerializer):
    publisher = PublisherSerializer()

    class Meta:
        model = Author
        fields = ["id", "name", "publisher"]


class BookSerializer(serializers.ModelSerializer):
    author = AuthorSerializer()
    tags = serializers.SlugRelatedField(many=True, read_only=True, slug_field="name")

    class Meta:
        model = Book
        fields = ["id", "title", "author", "tags"]


class BookList(PlannedQuerysetMixin, generics.ListAPIView):
    """``GET /api/drf/books/``: the first ``PAGE_SIZE`` books (a sync DRF view)."""

    queryset = Book.objects.order_by("pk")[:PAGE_SIZE]
    serializer_class = BookSerializer
    renderer_classes = [JSONRenderer]
    plan_lookups = [tags_by_name()]


class PublisherOut(Schema):
    id: int
    name: str


class AuthorOut(Schema):
    id: int
    name: str
    publisher: PublisherOut


class BookOut(Schema):
    id: int
    title: str
    author: AuthorOut
    tags: list[str]

    @staticmethod
    def resolve_tags(book: Book) -> list[str]:
        return [tag.name for tag in book.tags.all()]  # a resolver: its lookup is given below


ninja_api = NinjaAPI(urls_namespace="bookstore-api")


@ninja_api.get("/books", response=list[BookOut])
@planned(BookOut, tags_by_name())
async def books(request: Any) -> Any:
    """``GET /api/ninja/books``: the same books, from an async endpoint."""
    return Book.objects.order_by("pk")[:PAGE_SIZE]
