"""Cases the lint does not follow (known limits): it stays silent on them."""

from tests.testapp.models import Author, Book


def sort_key_lambda():
    return sorted(Book.objects.all(), key=lambda b: b.author.name)  # expect: REL001


def conditional_prefetch_unconditional_read(with_tags):
    qs = Book.objects.all()
    if with_tags:
        qs = qs.prefetch_related("tags")
    return [len(b.tags.all()) for b in qs]  # expect: REL001


def getattr_with_a_name(name):
    return [getattr(a, name) for a in Author.objects.all()]


def stored_then_read_later():
    rows = {}
    for book in Book.objects.all():
        rows[book.pk] = book
    return [rows[pk].author for pk in rows]  # expect: REL001


class BookList:
    queryset = Book.objects.all()

    def titles(self):
        return [(b.title, b.author.name) for b in self.queryset]  # expect: REL001

    def get_queryset(self):
        return Book.objects.select_related("author")

    def names(self):
        return [b.author.name for b in self.get_queryset()]
