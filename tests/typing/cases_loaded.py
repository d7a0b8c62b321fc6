# ruff: noqa: E501
"""Typing cases for loaded-relation tracking (``enable_error_code = relation-not-loaded``
for this module only); ``# R:``/``# E:`` comment lines state what mypy says about the next code
line, as in cases_r.py.
"""

from typing import Final, Literal, TypeVar, reveal_type

from django.db.models import Count, Model, Prefetch, QuerySet

from relations.stubs import Loaded
from tests.testapp.models import Author, Book, Comment, Restaurant, Review, Tag

AUTHOR: Final = "author"
M = TypeVar("M", bound=Model)
T = TypeVar("T")


def first(queryset: QuerySet[M]) -> M:
    return queryset[0]


def same(value: T) -> T:
    return value


async def from_querysets(name: str, author: Author) -> None:
    async for b in Book.objects.select_related("author__publisher").prefetch_related("tags"):
        # R: tests.testapp.models.Author
        reveal_type(b.author)
        _ = b.author.publisher
        _ = b.tags.all()
        # E: Relation "editor" of Book is not loaded here; add select_related("editor") to the queryset, annotate the value as Loaded[Book, Literal["editor"]], or use await obj.R("editor")  [relation-not-loaded]
        _ = b.editor
        # E: Relation "books" of Author is not loaded here; add prefetch_related("books") to the queryset, annotate the value as Loaded[Author, Literal["books"]], or use await obj.R("books")  [relation-not-loaded]
        _ = b.author.books
        b.editor = author
    for plain in Book.objects.all():
        # E: Relation "author" of Book is not loaded here; add select_related("author") to the queryset, annotate the value as Loaded[Book, Literal["author"]], or use await obj.R("author")  [relation-not-loaded]
        _ = plain.author
    one = await Book.objects.aget(pk=1)
    # E: Relation "tags" of Book is not loaded here; add prefetch_related("tags") to the queryset, annotate the value as Loaded[Book, Literal["tags"]], or use await obj.R("tags")  [relation-not-loaded]
    _ = one.tags
    chained = await Book.objects.select_related(AUTHOR).filter(title="x").order_by("title").afirst()
    if chained is not None:
        _ = chained.author
    annotated = Book.objects.annotate(n=Count("tags")).select_related("author").get()
    _ = annotated.author
    everything = Book.objects.select_related().get()
    _ = everything.editor
    dynamic = Book.objects.select_related(name).get()
    _ = dynamic.editor
    to_attr = Book.objects.prefetch_related(Prefetch("tags", to_attr="tag_list")).get()
    # E: Relation "tags" of Book is not loaded here; add prefetch_related("tags") to the queryset, annotate the value as Loaded[Book, Literal["tags"]], or use await obj.R("tags")  [relation-not-loaded]
    _ = to_attr.tags
    with_qs = Book.objects.prefetch_related(Prefetch("tags", queryset=Tag.objects.all())).get()
    _ = with_qs.tags
    nested = Author.objects.prefetch_related("books__editor").get()
    for book in nested.books.all():
        _ = book.editor
        # E: Relation "tags" of Book is not loaded here; add prefetch_related("tags") to the queryset, annotate the value as Loaded[Book, Literal["tags"]], or use await obj.R("tags")  [relation-not-loaded]
        _ = book.tags


def carried(name: str) -> None:
    queryset = Book.objects.select_related("author")
    _ = queryset[0].author
    _ = [b.author for b in queryset]
    _ = same(queryset.get()).author
    # E: Relation "author" of Book is not loaded here; add select_related("author") to the queryset, annotate the value as Loaded[Book, Literal["author"]], or use await obj.R("author")  [relation-not-loaded]
    _ = first(queryset).author
    for tag in Book.objects.prefetch_related("tags__books").get().tags.all():
        # E: Relation "books" of Tag is not loaded here; add prefetch_related("books") to the queryset, annotate the value as Loaded[Tag, Literal["books"]], or use await obj.R("books")  [relation-not-loaded]
        _ = tag.books


def inherited(review: Review, restaurant: Restaurant) -> None:
    # E: Relation "created_by" of Review is not loaded here; add select_related("created_by") to the queryset, annotate the value as Loaded[Review, Literal["created_by"]], or use await obj.R("created_by")  [relation-not-loaded]
    _ = review.created_by
    _ = Review.objects.select_related("created_by").get().created_by
    # E: Relation "owner" of Restaurant is not loaded here; add select_related("owner") to the queryset, annotate the value as Loaded[Restaurant, Literal["owner"]], or use await obj.R("owner")  [relation-not-loaded]
    _ = restaurant.owner
    _ = Restaurant.objects.select_related("owner").get().owner


async def other_sources(author: Author, comment: Comment) -> None:
    for book in await author.R("books"):
        _ = book.author
        # E: Relation "editor" of Book is not loaded here; add select_related("editor") to the queryset, annotate the value as Loaded[Book, Literal["editor"]], or use await obj.R("editor")  [relation-not-loaded]
        _ = book.editor
    profile = await author.R("profile")
    if profile is not None:
        _ = profile.author
    built = Book(title="t", author=author)
    _ = built.author
    # E: Relation "editor" of Book is not loaded here; add select_related("editor") to the queryset, annotate the value as Loaded[Book, Literal["editor"]], or use await obj.R("editor")  [relation-not-loaded]
    _ = built.editor
    created = await Book.objects.acreate(title="t", author=author)
    _ = created.author
    _ = Book.objects.create(title="t", author=author).author
    # E: Relation "target" of Comment is not loaded here; add prefetch_related("target") to the queryset, annotate the value as Loaded[Comment, Literal["target"]], or use await obj.R("target")  [relation-not-loaded]
    _ = comment.target


def takes(book: Loaded[Book, Literal["author__publisher", "tags"]]) -> None:
    _ = book.author.publisher
    _ = book.tags.all()
    # E: Relation "editor" of Book is not loaded here; add select_related("editor") to the queryset, annotate the value as Loaded[Book, Literal["editor"]], or use await obj.R("editor")  [relation-not-loaded]
    _ = book.editor


class Shelf:
    def put(self, book: Loaded[Book, Literal["author"]]) -> None:
        _ = book.author


def call_sites(plain: Book) -> None:
    # E: Argument "book" to "takes" needs relations loaded that are not: author__publisher, tags; load them with select_related()/prefetch_related() where the value is fetched, or annotate it with Loaded[...]  [relation-not-loaded]
    takes(plain)
    takes(Book.objects.select_related("author__publisher").prefetch_related("tags").get())
    # E: Argument "book" to "takes" needs relations loaded that are not: author__publisher; load them with select_related()/prefetch_related() where the value is fetched, or annotate it with Loaded[...]  [relation-not-loaded]
    takes(Book.objects.select_related("author").prefetch_related("tags").get())
    # E: Argument "book" to "put" needs relations loaded that are not: author; load them with select_related()/prefetch_related() where the value is fetched, or annotate it with Loaded[...]  [relation-not-loaded]
    Shelf().put(plain)
    Shelf().put(Book.objects.select_related("author").get())


# E: "autor" is not a relation of Book; did you mean "author"? Relations: author, chapters, comments, editor, reviews, tags  [relation-unknown]
def bad_annotation(book: Loaded[Book, Literal["autor"]]) -> None:
    pass
