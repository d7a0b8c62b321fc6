"""Shared fixtures: a small bookstore with every relation kind, and query capture."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.test.utils import CaptureQueriesContext

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


@pytest.fixture
def data(db: Any) -> dict[str, Any]:
    """Two publishers, three authors, four books with tags, comments, chapters..."""
    return make_data()


@pytest.fixture
def committed_data(transactional_db: Any) -> dict[str, Any]:
    """``data``, committed: what a second (native) connection can see."""
    return make_data()


def make_data() -> dict[str, Any]:
    """Create the bookstore rows of ``data``."""
    p1 = Publisher.objects.create(name="Penguin")
    p2 = Publisher.objects.create(name="Faber")
    a1 = Author.objects.create(name="Ada", publisher=p1)
    a2 = Author.objects.create(name="Bob", publisher=p2, mentor=a1)
    a3 = Author.objects.create(name="Cy", publisher=None)
    Profile.objects.create(author=a1, bio="ada bio")
    t1, t2, t3 = (Tag.objects.create(name=n) for n in ("sf", "poetry", "essay"))
    b1 = Book.objects.create(title="B1", author=a1, editor=a2)
    b2 = Book.objects.create(title="B2", author=a1)
    b3 = Book.objects.create(title="B3", author=a2, editor=a1)
    b4 = Book.objects.create(title="B4", author=a3)
    b1.tags.set([t1, t2])
    b2.tags.set([t2])
    b3.tags.set([t1, t2, t3])
    Comment.objects.create(target=b1, text="on b1")
    Comment.objects.create(target=b1, text="again b1")
    Comment.objects.create(target=a2, text="on bob")
    Comment.objects.create(text="orphan, no target")
    Chapter.objects.create(book=b1, number=1)
    Chapter.objects.create(book=b1, number=2, deleted=True)
    club = Club.objects.create(name="Inklings")
    Membership.objects.create(club=club, author=a1, role="chair")
    Membership.objects.create(club=club, author=a2)
    Place.objects.create(name="Park", owner=a3)
    Restaurant.objects.create(name="Luigi's", owner=a1, serves_pizza=True)
    Review.objects.create(book=b1, created_by=a2, stars=5)
    return {"publishers": [p1, p2], "authors": [a1, a2, a3], "books": [b1, b2, b3, b4], "tags": [t1, t2, t3]}


def run(coroutine_function: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    """Run async test code the way Django's TestCase does: through async_to_sync,
    so thread-sensitive ORM work lands on this thread's connection and transaction."""
    return async_to_sync(coroutine_function)()


@contextmanager
def queries() -> Iterator[CaptureQueriesContext]:
    """Capture the SQL that Django runs on the default connection in this thread."""
    with CaptureQueriesContext(connection) as ctx:
        yield ctx
