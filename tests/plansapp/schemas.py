"""django-ninja schemas and plain pydantic models over ``tests.testapp``'s models."""

from __future__ import annotations

from ninja import Field, ModelSchema, Schema
from pydantic import BaseModel, ConfigDict

from tests.testapp.models import Author, Book, Comment, Place, Restaurant, Tag


class PublisherOut(Schema):
    id: int
    name: str


class AuthorOut(Schema):
    id: int
    name: str
    publisher: PublisherOut | None = None  # nested forward FK


class TagOut(Schema):
    id: int
    name: str


class BookOut(Schema):
    """Nested FK (two levels), list of schemas over an M2M, a dotted alias, a resolver."""

    id: int
    title: str
    author: AuthorOut
    tags: list[TagOut]
    author_name: str = Field(alias="author.name")
    shout: str

    @staticmethod
    def resolve_shout(book: Book) -> str:
        return book.title.upper()  # reads no relation


class BookModelOut(ModelSchema):
    """ModelSchema: the FK is read as author_id (no load), the M2M as a list of ids."""

    class Meta:
        model = Book
        fields = ["id", "title", "author", "tags"]


class Ref(Schema):
    id: int


class AuthorModelOut(ModelSchema):
    """Reverse FK, reverse M2M through, reverse one-to-one via a dotted alias."""

    books: list[Ref]
    clubs: list[Ref]
    bio: str | None = Field(None, alias="profile.bio")

    class Meta:
        model = Author
        fields = ["id", "name"]


class CommentOut(Schema):
    id: int
    text: str


class BookCommentsOut(Schema):
    """Generic relation; reverse FK through a filtering default manager."""

    id: int
    comments: list[CommentOut]
    chapters: list[Ref]


class TargetOut(Schema):
    id: int


class CommentTargetOut(Schema):
    """Generic foreign key, nested (any model with an id)."""

    id: int
    target: TargetOut | None = None


class RestaurantOut(Schema):
    """Multi-table inheritance: a parent's FK read through the child."""

    id: int
    name: str
    owner: AuthorOut | None = None


class RestaurantBriefOut(Schema):
    serves_pizza: bool


class PlaceOut(ModelSchema):
    """The reverse parent link, nested."""

    restaurant: RestaurantBriefOut | None = None

    class Meta:
        model = Place
        fields = ["id", "name"]


class TagBooksOut(Schema):
    """Reverse M2M, nested, whose schema reads a forward FK."""

    id: int
    books: list[BookModelOut]


class AuthorMentorOut(Schema):
    """Nests itself: its depth depends on the data."""

    id: int
    mentor: AuthorMentorOut | None = None


# Plain pydantic, read with from_attributes: relations as attributes (to-one only; a
# to-many manager is no list to pydantic).
class PlainPublisher(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    name: str


class PlainAuthor(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    name: str
    publisher: PlainPublisher | None = None


class PlainBook(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    title: str
    author: PlainAuthor


__all__ = ["Author", "Book", "Comment", "Restaurant", "Tag"]
