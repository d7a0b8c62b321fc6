"""Chained querysets: reassignment, helpers that build querysets."""

from tests.testapp.models import Author, Book


def books_with_authors():  # corpus: helper
    return Book.objects.select_related("author")


def plain_books():  # corpus: helper
    return Book.objects.filter(title__startswith="B")


def with_tags(qs):  # corpus: helper
    return qs.prefetch_related("tags")


def chained_reassignment():
    qs = Book.objects.filter(title__startswith="B")
    qs = qs.select_related("author")
    qs = qs.order_by("title")
    return [b.author.name for b in qs]


def chain_from_a_base_queryset():
    base = Book.objects.select_related("author")
    recent = base.filter(pk__gt=1).exclude(title="")
    return [b.author.name for b in recent]


def result_of_select_related_discarded():
    qs = Book.objects.all()
    qs.select_related("author")  # returns a new queryset, which is dropped
    return [b.author.name for b in qs]  # expect: REL001


def reassigned_to_a_plain_queryset():
    qs = Book.objects.select_related("author")
    qs = Book.objects.all()
    return [b.author.name for b in qs]  # expect: REL001


def queryset_from_a_helper():
    return [b.author.name for b in books_with_authors()]


def plain_queryset_from_a_helper():
    return [b.author.name for b in plain_books()]  # expect: REL001


def helper_adds_the_prefetch():
    return [len(b.tags.all()) for b in with_tags(Book.objects.all())]


def helper_adds_another_prefetch():
    return [len(b.tags.all()) + len(b.author.name) for b in with_tags(Book.objects.all())]  # expect: REL001


def select_related_and_prefetch_combined():
    qs = Author.objects.select_related("publisher").prefetch_related("books__tags")
    out = []
    for author in qs:
        for book in author.books.all():
            out.append((author.publisher, [t.name for t in book.tags.all()]))
    return out


def select_related_without_arguments():
    return [(b.author.name, b.editor) for b in Book.objects.select_related()]


def dynamic_lookups_are_trusted(fields):
    return [b.author.name for b in Book.objects.select_related(*fields)]
