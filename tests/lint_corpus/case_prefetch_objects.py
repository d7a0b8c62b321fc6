"""Prefetch objects, with and without to_attr."""

from django.db.models import Prefetch

from tests.testapp.models import Author, Book, Chapter


def to_attr_list_is_loaded():
    authors = Author.objects.prefetch_related(
        Prefetch("books", queryset=Book.objects.select_related("editor"), to_attr="recent_books")
    )
    return [[(b.title, b.editor) for b in a.recent_books] for a in authors]


def to_attr_does_not_fill_the_manager():
    authors = Author.objects.prefetch_related(Prefetch("books", to_attr="recent_books"))
    return [[b.title for b in a.books.all()] for a in authors]  # expect: REL001


def to_attr_items_need_their_own_select_related():
    authors = Author.objects.prefetch_related(Prefetch("books", to_attr="recent_books"))
    return [[b.editor for b in a.recent_books] for a in authors]  # expect: REL001


def prefetch_object_without_to_attr():
    authors = Author.objects.prefetch_related(Prefetch("books", queryset=Book.objects.filter(pk__gt=1)))
    return [[b.title for b in a.books.all()] for a in authors]


def prefetch_object_inner_select_related():
    books = Prefetch("books", queryset=Book.objects.select_related("editor"))
    out = []
    for author in Author.objects.prefetch_related(books):
        out.extend(b.editor for b in author.books.all())
    return out


def prefetch_object_inner_missing():
    out = []
    for author in Author.objects.prefetch_related(Prefetch("books", queryset=Book.objects.all())):
        out.extend(b.editor for b in author.books.all())  # expect: REL001
    return out


def prefetch_with_an_unknown_queryset(queryset):
    out = []
    for author in Author.objects.prefetch_related(Prefetch("books", queryset=queryset)):
        out.extend(b.editor for b in author.books.all())
    return out


def prefetch_through_manager_with_filter():
    chapters = Chapter.objects.filter(number__gt=0)
    books = Book.objects.prefetch_related(Prefetch("chapters", queryset=chapters, to_attr="kept"))
    return {b.pk: [c.number for c in b.kept] for b in books}
