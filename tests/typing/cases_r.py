# ruff: noqa: E501
"""Typing cases for R(): a ``# R: <revealed type>`` or ``# E: <error>`` comment line states what
mypy must say about the next code line (test_mypy_plugin.py asserts it exactly); a code line
without one must give no mypy output at all.

Checked with the default configuration: ``relation-not-loaded`` is off here, so the plain
relation reads below must stay silent.
"""

from typing import Final, Literal, reveal_type

from django.contrib.auth.models import User
from django.db.models import Model

from relations import R
from tests.testapp.models import (
    Author,
    Book,
    BookProxy,
    Chapter,
    Comment,
    Place,
    Restaurant,
    Review,
    Tag,
    Timestamped,
)
from tests.typing.typingapp.models import Note

AUTHOR: Final = "author"


async def forward(book: Book, s: str, which: Literal["author", "tags"]) -> None:
    # R: relations.stubs._types.RelationLoad[tests.testapp.models.Author]
    reveal_type(book.R("author"))
    # R: tests.testapp.models.Author
    reveal_type(await book.R("author"))
    # R: tests.testapp.models.Author | None
    reveal_type(await book.R("editor"))
    # R: list[tests.testapp.models.Tag]
    reveal_type(await book.R("tags"))
    # R: list[tests.testapp.models.Comment]
    reveal_type(await book.R("comments"))
    # R: list[tests.testapp.models.Chapter]
    reveal_type(await book.R("chapters"))
    # R: list[tests.testapp.models.Review]
    reveal_type(await book.R("reviews"))
    # R: tests.testapp.models.Author
    reveal_type(await book.R(AUTHOR))
    # R: tests.testapp.models.Author | list[tests.testapp.models.Tag]
    reveal_type(await book.R(which))
    # R: Any
    reveal_type(await book.R(s))
    # R: tests.testapp.models.Author
    reveal_type(await book.R("author", refresh=True))
    # R: list[tests.testapp.models.Tag]
    reveal_type(await book.R("tags", queryset=Tag.objects.all()))
    # R: tests.testapp.models.Author
    reveal_type(await BookProxy().R("author"))
    _ = book.author  # plain reads are not checked unless relation-not-loaded is enabled
    # E: Incompatible types in assignment (expression has type "Author", variable has type "Tag")  [assignment]
    _tag: Tag = await book.R("author")


def sync_forms(book: Book) -> None:
    # R: tests.testapp.models.Author
    reveal_type(book.R("author").sync())
    # R: tests.testapp.models.Author | None
    reveal_type(book.R("editor").sync())
    # R: list[tests.testapp.models.Tag]
    reveal_type(book.R("tags").sync())
    # R: list[tests.testapp.models.Tag]
    reveal_type(R(book, "tags").sync())


async def functional(book: Book) -> None:
    # R: relations.api.RelationLoad[tests.testapp.models.Author]
    reveal_type(R(book, "author"))
    # R: tests.testapp.models.Author | None
    reveal_type(await R(book, "editor"))
    # R: tests.testapp.models.Publisher | None
    reveal_type(await R(book, "author__publisher"))
    # E: "autor" is not a relation of Book; did you mean "author"? Relations: author, chapters, comments, editor, reviews, tags  [relation-unknown]
    await R(book, "autor")


async def reverse(author: Author) -> None:
    # R: list[tests.testapp.models.Book]
    reveal_type(await author.R("books"))
    # R: list[tests.testapp.models.Book]
    reveal_type(await author.R("edited_books"))
    # R: tests.testapp.models.Profile | None
    reveal_type(await author.R("profile"))
    # R: list[tests.testapp.models.Club]
    reveal_type(await author.R("clubs"))
    # R: list[tests.testapp.models.Membership]
    reveal_type(await author.R("membership_set"))
    # R: tests.testapp.models.Author | None
    reveal_type(await author.R("mentor"))
    # R: list[tests.testapp.models.Author]
    reveal_type(await author.R("mentees"))
    # R: list[tests.testapp.models.Review]
    reveal_type(await author.R("review_created"))


async def paths(book: Book, chapter: Chapter, review: Review) -> None:
    # R: tests.testapp.models.Author
    reveal_type(await review.R("book__author"))
    # R: tests.testapp.models.Publisher | None
    reveal_type(await book.R("author__publisher"))
    # R: tests.testapp.models.Profile | None
    reveal_type(await book.R("editor__profile"))
    # R: tests.testapp.models.Author | None
    reveal_type(await chapter.R("book__author__mentor"))
    # R: list[tests.testapp.models.Book]
    reveal_type(await book.R("author__books"))
    # R: list[tests.testapp.models.Book]
    reveal_type(await book.R("editor__books"))
    # R: list[tests.testapp.models.Author]
    reveal_type(await book.R("tags__books__author"))
    # R: list[tests.testapp.models.Author]
    reveal_type(await book.R("tags__books__editor"))


async def inheritance_and_generic(
    restaurant: Restaurant, place: Place, comment: Comment, note: Note, book: Book
) -> None:
    # R: tests.testapp.models.Place
    reveal_type(await restaurant.R("place_ptr"))
    # R: tests.testapp.models.Restaurant | None
    reveal_type(await place.R("restaurant"))
    # R: tests.testapp.models.Author | None
    reveal_type(await restaurant.R("owner"))
    # R: list[tests.testapp.models.Book]
    reveal_type(await restaurant.R("place_ptr__owner__books"))
    # R: django.db.models.base.Model | None
    reveal_type(await comment.R("target"))
    # R: tests.testapp.models.Book | tests.testapp.models.Author | None
    reveal_type(await note.R("target"))
    # R: Any
    reveal_type(await comment.R("target__author"))
    # R: list[django.db.models.base.Model]
    reveal_type(await book.R("comments__target"))


async def contrib(user: User) -> None:
    # R: list[django.contrib.auth.models.Group]
    reveal_type(await user.R("groups"))
    # R: list[django.contrib.auth.models.Permission]
    reveal_type(await user.R("groups__permissions"))


async def unknown(book: Book, which: Literal["author", "autor"]) -> None:
    # E: "autor" is not a relation of Book; did you mean "author"? Relations: author, chapters, comments, editor, reviews, tags  [relation-unknown]
    await book.R("autor")
    # E: "xyzzy" is not a relation of Book. Relations: author, chapters, comments, editor, reviews, tags  [relation-unknown]
    await book.R("xyzzy")
    # E: "title" is a field of Book, not a relation. Relations: author, chapters, comments, editor, reviews, tags  [relation-unknown]
    await book.R("title")
    # E: In "author__publsher": "publsher" is not a relation of Author; did you mean "publisher"? Relations: books, clubs, edited_books, membership_set, mentees, mentor, places, profile, publisher, review_created  [relation-unknown]
    await book.R("author__publsher")
    # E: "author__" is not a relation path such as "author" or "author__publisher"  [relation-unknown]
    await book.R("author__")
    # E: "autor" is not a relation of Book; did you mean "author"? Relations: author, chapters, comments, editor, reviews, tags  [relation-unknown]
    await book.R(which)


async def unknowable(model: Model, abstract: Timestamped) -> None:
    # R: Any
    reveal_type(await model.R("anything"))
    # R: Any
    reveal_type(await abstract.R("created_by"))
