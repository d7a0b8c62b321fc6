"""Endpoints with the adapters: DRF and adrf views, django-ninja endpoints."""

from __future__ import annotations

from typing import Any

from adrf import generics as agenerics
from adrf import serializers as aserializers
from ninja import NinjaAPI
from rest_framework import generics, viewsets
from rest_framework.pagination import PageNumberPagination
from rest_framework.renderers import JSONRenderer

from relations.contrib.adrf import APlannedMixin
from relations.contrib.drf import PlannedQuerysetMixin
from relations.contrib.ninja import aload, planned
from tests.testapp.models import Author, Book, Publisher, Tag

from .schemas import BookModelOut, BookOut
from .serializers import BookSerializer, BookWriteSerializer, ReviewCountSerializer


class Page(PageNumberPagination):
    page_size = 2


class BookList(PlannedQuerysetMixin, generics.ListAPIView):
    queryset = Book.objects.order_by("pk")
    serializer_class = BookSerializer
    renderer_classes = [JSONRenderer]


class BookPages(BookList):
    pagination_class = Page


class ReviewCounts(PlannedQuerysetMixin, generics.ListAPIView):
    queryset = Book.objects.order_by("pk")
    serializer_class = ReviewCountSerializer
    renderer_classes = [JSONRenderer]


class BookViewSet(PlannedQuerysetMixin, viewsets.ModelViewSet):
    queryset = Book.objects.order_by("pk")
    renderer_classes = [JSONRenderer]
    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []

    def get_serializer_class(self) -> Any:
        return BookWriteSerializer


# adrf: an async serializer tree
class ATagSerializer(aserializers.ModelSerializer):
    class Meta:
        model = Tag
        fields = ["id", "name"]


class APublisherSerializer(aserializers.ModelSerializer):
    class Meta:
        model = Publisher
        fields = ["id", "name"]


class AAuthorSerializer(aserializers.ModelSerializer):
    publisher = APublisherSerializer(allow_null=True)

    class Meta:
        model = Author
        fields = ["id", "name", "publisher"]


class ABookSerializer(aserializers.ModelSerializer):
    author = AAuthorSerializer()
    tags = ATagSerializer(many=True, read_only=True)

    class Meta:
        model = Book
        fields = ["id", "title", "author", "tags"]


class ABookList(APlannedMixin, agenerics.ListAPIView):
    queryset = Book.objects.order_by("pk")
    serializer_class = ABookSerializer
    renderer_classes = [JSONRenderer]
    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []


class ABookDetail(APlannedMixin, agenerics.RetrieveAPIView):
    queryset = Book.objects.all()
    serializer_class = ABookSerializer
    renderer_classes = [JSONRenderer]
    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []


api = NinjaAPI(urls_namespace="plans-ninja")


@api.get("/books", response=list[BookOut])
@planned(BookOut)
async def ninja_books(request: Any) -> Any:
    return Book.objects.order_by("pk")


@api.get("/books/{pk}", response=BookOut)
@planned(BookOut)
async def ninja_book(request: Any, pk: int) -> Any:
    return await Book.objects.aget(pk=pk)


@api.get("/model-books", response=list[BookModelOut])
async def ninja_model_books(request: Any) -> Any:
    return await aload(Book.objects.order_by("pk"), BookModelOut)


@api.get("/sync-books", response=list[BookOut])
@planned(BookOut)
def ninja_sync_books(request: Any) -> Any:
    return list(Book.objects.order_by("pk"))


@api.get("/unplanned", response=list[BookOut])
async def ninja_unplanned(request: Any) -> Any:
    return [book async for book in Book.objects.order_by("pk")]
