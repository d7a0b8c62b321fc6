"""Explicit loads before the reads: R(), prefetch(), prefetch_related_objects(), assignment."""

from django.db.models import prefetch_related_objects

from relations import prefetch
from tests.testapp.models import Author, Book


def prefetch_the_list():
    books = list(Book.objects.all())
    prefetch(books, "author")
    return [b.author.name for b in books]


def prefetch_related_objects_on_the_list():
    books = list(Book.objects.all())
    prefetch_related_objects(books, "tags")
    return [[t.name for t in b.tags.all()] for b in books]


def prefetch_the_wrong_relation():
    books = list(Book.objects.all())
    prefetch(books, "tags")
    return [b.author.name for b in books]  # expect: REL001


def r_sync_in_the_loop():
    out = []
    for book in Book.objects.all():
        book.R("author").sync()
        out.append(book.author.name)
    return out


def assignment_fills_the_cache():
    ada = Author.objects.get(pk=1)
    books = []
    for book in Book.objects.filter(author=ada):
        book.author = ada
        books.append(book.author.name)
    return books


def unsaved_instances_are_not_followed():
    return [Book(title=str(i)).title for i in range(3)]


def load_books(books):  # corpus: helper
    prefetch(books, "author", "tags")


def helper_that_prefetches_its_argument():
    books = list(Book.objects.all())
    load_books(books)
    return [(b.author.name, len(b.tags.all())) for b in books]


def unknown_loader_with_lookups(loader):
    books = list(Book.objects.all())
    loader(books, "author")
    return [b.author.name for b in books]


def unknown_call_for_its_effect(warm_up):
    books = list(Book.objects.all())
    warm_up(books)
    return [b.author.name for b in books]


def builtin_call_does_not_load():
    books = list(Book.objects.all())
    print(books)
    return [b.author.name for b in books]  # expect: REL001
