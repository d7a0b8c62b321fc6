"""Conditional prefetching."""

from tests.testapp.models import Author, Book


def prefetch_only_when_needed(with_tags):
    qs = Book.objects.all()
    if with_tags:
        qs = qs.prefetch_related("tags")
    out = []
    for book in qs:
        tags = [t.name for t in book.tags.all()] if with_tags else []
        out.append((book.title, tags))
    return out


def conditional_prefetch_unrelated_read(with_authors):
    qs = Book.objects.all()
    if with_authors:
        qs = qs.select_related("author")
    return [len(b.tags.all()) for b in qs]  # expect: REL001


def either_branch_loads(order):
    if order:
        qs = Author.objects.select_related("publisher").order_by("name")
    else:
        qs = Author.objects.select_related("publisher")
    return [a.publisher for a in qs]


def branch_replaces_the_queryset(fast):
    qs = Author.objects.prefetch_related("books")
    if fast:
        qs = Author.objects.all()
    return [[b.title for b in a.books.all()] for a in qs]  # expect: REL001


def read_guarded_by_the_same_flag(detail):
    qs = Author.objects.all()
    if detail:
        qs = qs.select_related("profile")
    return [(a.name, a.profile.bio if detail else "") for a in qs]


def try_block_prefetch():
    try:
        qs = Book.objects.select_related("editor")
    except Exception:
        qs = Book.objects.none()
    return [b.editor for b in qs]
