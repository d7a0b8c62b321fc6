"""Helpers called from loops: the read is in the helper, the N+1 at the call."""

from tests.lint_corpus.case_helpers_lib import byline, tag_names, title_only
from tests.testapp.models import Author, Book


def describe(book):  # corpus: helper
    return f"{book.title} ({book.editor})"


def publisher_of(author):  # corpus: helper
    return author.publisher


def all_titles(queryset):  # corpus: helper
    return [b.title + b.author.name for b in queryset]


def local_helper_in_loop():
    return [describe(b) for b in Book.objects.all()]  # expect: REL003


def local_helper_loaded():
    return [describe(b) for b in Book.objects.select_related("editor")]


def imported_helper_in_loop():
    out = []
    for book in Book.objects.all():
        out.append(byline(book))  # expect: REL003
    return out


def imported_helper_loaded():
    return [byline(b) for b in Book.objects.select_related("author")]


def imported_to_many_helper_in_loop():
    return [tag_names(b) for b in Book.objects.all()]  # expect: REL003


def imported_to_many_helper_prefetched():
    return [tag_names(b) for b in Book.objects.prefetch_related("tags")]


def helper_without_relation_reads():
    return [title_only(b) for b in Book.objects.all()]


def helper_on_a_related_object():
    return [publisher_of(b.author) for b in Book.objects.select_related("author")]  # expect: REL003


def helper_on_a_related_object_loaded():
    return [publisher_of(b.author) for b in Book.objects.select_related("author__publisher")]


def helper_iterates_the_queryset():
    return all_titles(Book.objects.all())  # expect: REL003


def helper_iterates_a_loaded_queryset():
    return all_titles(Book.objects.select_related("author"))


def helper_called_once():
    book = Book.objects.get(pk=1)
    return describe(book)


class Listing:
    def row(self, author):  # corpus: helper
        return (author.name, author.publisher)

    def rows(self):
        return [self.row(a) for a in Author.objects.all()]  # expect: REL003

    def rows_loaded(self):
        return [self.row(a) for a in Author.objects.select_related("publisher")]
