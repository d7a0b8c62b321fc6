"""DJANGO_ALLOW_ASYNC_UNSAFE: honoured exactly as Django honours it, and nothing more."""

import pytest
from django.test.utils import CaptureQueriesContext

from relations import RelationNotLoaded, mode
from tests.conftest import run
from tests.testapp.models import Book


@pytest.fixture
def book(data):
    return Book.objects.get(title="B1")


def test_event_loop_blocks_every_mode_without_the_variable(book, monkeypatch):
    monkeypatch.delenv("DJANGO_ALLOW_ASYNC_UNSAFE", raising=False)

    async def read():
        with mode("lazy"):
            return book.author

    with pytest.raises(RelationNotLoaded, match="inside a running event loop"):
        run(read)


@pytest.mark.django_db(transaction=True)  # the loop's context gets its own connection
def test_lazy_mode_loads_inside_an_event_loop_when_django_allows_it(book, monkeypatch):
    # A notebook or a shell with a running loop: the user told Django sync I/O is fine.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    book_id = book.pk

    def read_in_loop():
        import asyncio

        async def read():
            from django.db import connection

            try:
                with mode("lazy"), CaptureQueriesContext(connection) as q:
                    return book.author.name, len(q)
            finally:
                connection.close()

        return asyncio.run(read())

    assert read_in_loop() == ("Ada", 1)
    assert Book.author.is_cached(book)
    assert Book.author.is_cached(Book.objects.get(pk=book_id)) is False


def test_raise_mode_still_raises_when_django_allows_async_unsafe(book, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    def read_in_loop():
        import asyncio

        async def read():
            return book.author

        return asyncio.run(read())

    with pytest.raises(RelationNotLoaded, match='mode "raise"'):
        read_in_loop()
