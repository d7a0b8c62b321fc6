"""One page of books with their authors and tags, written twice.

``books_strict`` loads the relations with django-strict-relations (``aprefetch``);
``books_django`` is the same page with Django's own async API only (``async for``
and ``aprefetch_related_objects``, which is ``sync_to_async(prefetch_related_objects)``).
Both run the same three queries (a page of books, their authors, their tags) and
render the same template, so for the same data they return the same HTML, byte for
byte (``tests/test_example_views.py``).  ``benchmarks/http_views.py`` drives both
under uvicorn.

The template reads ``book.author`` and ``book.tags.all`` as plain attributes: with
``RELATIONS["MODE"] = "raise"`` a relation the view forgot to load is an error
(``RelationNotLoaded``), not a hidden query per row.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, aprefetch_related_objects
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render

from relations import aprefetch

from .models import Book, Tag

PAGE_SIZE = 50  # books per page when ?n= is not given
MAX_PAGE_SIZE = 1_000
TEMPLATE = "shop/books.html"


def page_size(request: HttpRequest) -> int | None:
    """``?n=``: how many books to show, 1 to ``MAX_PAGE_SIZE``; None when invalid."""
    raw = request.GET.get("n", str(PAGE_SIZE))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE_SIZE:
        return None
    return int(raw)


def bad_page_size() -> HttpResponseBadRequest:
    return HttpResponseBadRequest(f"n must be a whole number from 1 to {MAX_PAGE_SIZE}\n")


def tags_by_name() -> Prefetch[Any]:
    # An explicit order: Tag has no Meta.ordering, and the page must not depend on
    # the order in which the database happens to return the tags of the join.
    return Prefetch("tags", queryset=Tag.objects.order_by("name"))


async def books_strict(request: HttpRequest) -> HttpResponse:
    """The page with django-strict-relations: ``aprefetch`` loads authors and tags."""
    n = page_size(request)
    if n is None:
        return bad_page_size()
    books = [book async for book in Book.objects.order_by("pk")[:n]]
    await aprefetch(books, "author", tags_by_name())
    return render(request, TEMPLATE, {"books": books})


async def books_django(request: HttpRequest) -> HttpResponse:
    """The same page with Django's own async API and nothing from this library."""
    n = page_size(request)
    if n is None:
        return bad_page_size()
    books = [book async for book in Book.objects.order_by("pk")[:n]]
    await aprefetch_related_objects(books, "author", tags_by_name())
    return render(request, TEMPLATE, {"books": books})
