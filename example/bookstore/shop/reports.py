"""Reports of the bookstore, with one planted N+1 and its fix.

The enforcement tools are tested end to end on this module: the lazy-load report
(``RELATIONS["MODE"] = "record"``), the pytest plugin (``--relations-mode``) and the
static lint (``python -m relations lint``) each find the N+1 in
``catalogue_naive()`` and nothing in ``catalogue()``.
"""

from __future__ import annotations

from .models import Book


def catalogue_naive() -> list[str]:
    """One line per book.  N+1: reading ``book.author`` runs one query per book."""
    return [f"{book.title} by {book.author.name}" for book in Book.objects.order_by("pk")]


def catalogue() -> list[str]:
    """The same lines, with the authors joined into the books query."""
    books = Book.objects.select_related("author").order_by("pk")
    return [f"{book.title} by {book.author.name}" for book in books]
