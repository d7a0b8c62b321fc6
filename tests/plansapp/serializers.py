"""DRF serializers that read every relation kind of ``tests.testapp``."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from tests.testapp.models import (
    Author,
    Book,
    Chapter,
    Club,
    Comment,
    Place,
    Profile,
    Publisher,
    Restaurant,
    Tag,
)


class PublisherSerializer(serializers.ModelSerializer):
    class Meta:
        model = Publisher
        fields = ["id", "name"]


class AuthorSerializer(serializers.ModelSerializer):
    publisher = PublisherSerializer(allow_null=True)  # nested forward FK

    class Meta:
        model = Author
        fields = ["id", "name", "publisher"]


class TagSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tag
        fields = ["id", "name"]


class BookSerializer(serializers.ModelSerializer):
    """The issue's example: nested FK (two levels), nested M2M, a pk-only FK, a dotted source."""

    author = AuthorSerializer()
    tags = TagSerializer(many=True, read_only=True)
    editor = serializers.PrimaryKeyRelatedField(read_only=True)
    author_name = serializers.CharField(source="author.name")
    blurb = serializers.SerializerMethodField()

    class Meta:
        model = Book
        fields = ["id", "title", "author", "tags", "editor", "author_name", "blurb"]

    def get_blurb(self, book: Book) -> str:
        return book.title.lower()  # reads no relation


class AuthorBooksSerializer(serializers.ModelSerializer):
    """Reverse FK and reverse M2M (through) as DRF's default PrimaryKeyRelatedField(many=True),
    a reverse one-to-one as a dotted source, a forward FK to self as pk."""

    bio = serializers.CharField(source="profile.bio", default="")

    class Meta:
        model = Author
        fields = ["id", "name", "books", "clubs", "mentor", "bio"]


class ProfileSerializer(serializers.ModelSerializer):
    class Meta:
        model = Profile
        fields = ["id", "bio"]


class AuthorProfileSerializer(serializers.ModelSerializer):
    """Reverse one-to-one, nested; reverse FK to self, nested with a StringRelatedField."""

    profile = ProfileSerializer(read_only=True)
    mentees = serializers.StringRelatedField(many=True)

    class Meta:
        model = Author
        fields = ["id", "profile", "mentees"]


class BookBriefSerializer(serializers.ModelSerializer):
    author = serializers.StringRelatedField()  # needs the Author object

    class Meta:
        model = Book
        fields = ["id", "title", "author"]


class TagBooksSerializer(serializers.ModelSerializer):
    """Reverse M2M, nested, whose serializer reads a forward FK: two hops."""

    books = BookBriefSerializer(many=True, read_only=True)

    class Meta:
        model = Tag
        fields = ["id", "name", "books"]


class ClubSerializer(serializers.ModelSerializer):
    """M2M through a model, with SlugRelatedField (needs the objects)."""

    members = serializers.SlugRelatedField(many=True, read_only=True, slug_field="name")

    class Meta:
        model = Club
        fields = ["id", "name", "members"]


class TargetField(serializers.RelatedField):
    """A GenericRelatedField-style field: the generic target, worded by its type."""

    def to_representation(self, value: Any) -> Any:
        if isinstance(value, Book):
            return {"book": value.title}
        if isinstance(value, Author):
            return {"author": value.name}
        raise TypeError(type(value).__name__)


class CommentSerializer(serializers.ModelSerializer):
    """Generic foreign key."""

    target = TargetField(read_only=True)

    class Meta:
        model = Comment
        fields = ["id", "text", "target"]


class CommentTextSerializer(serializers.ModelSerializer):
    class Meta:
        model = Comment
        fields = ["id", "text"]


class ChapterSerializer(serializers.ModelSerializer):
    class Meta:
        model = Chapter
        fields = ["id", "number"]


class BookCommentsSerializer(serializers.ModelSerializer):
    """Generic relation; reverse FK through a filtering default manager; source='*'."""

    comments = CommentTextSerializer(many=True, read_only=True)
    chapters = ChapterSerializer(many=True, read_only=True)
    info = BookBriefSerializer(source="*", read_only=True)

    class Meta:
        model = Book
        fields = ["id", "comments", "chapters", "info"]


class RestaurantSerializer(serializers.ModelSerializer):
    """Multi-table inheritance child: a parent's FK read through the child."""

    owner = AuthorSerializer(allow_null=True)

    class Meta:
        model = Restaurant
        fields = ["id", "name", "serves_pizza", "owner"]


class RestaurantBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Restaurant
        fields = ["serves_pizza"]


class PlaceSerializer(serializers.ModelSerializer):
    """Multi-table inheritance parent: the reverse parent link to the child."""

    restaurant = RestaurantBriefSerializer(read_only=True)

    class Meta:
        model = Place
        fields = ["id", "name", "restaurant"]


class PublisherPkSerializer(serializers.ModelSerializer):
    """A pk-only field behind a dotted source: loads the hops before the key."""

    publisher_id_of_author = serializers.PrimaryKeyRelatedField(source="author.publisher", read_only=True)

    class Meta:
        model = Book
        fields = ["id", "publisher_id_of_author"]


class ReviewCountSerializer(serializers.ModelSerializer):
    """A SerializerMethodField reading a relation: the plan cannot see it, the Meta hint adds it."""

    review_count = serializers.SerializerMethodField()

    class Meta:
        model = Book
        fields = ["id", "review_count"]
        plan_lookups = ["reviews"]

    def get_review_count(self, book: Book) -> int:
        return len(book.reviews.all())


class PlainBookSerializer(serializers.Serializer):
    """No model: plan(..., model=Book)."""

    title = serializers.CharField()
    author = serializers.CharField(source="author.name")


class BookWriteSerializer(serializers.ModelSerializer):
    """Writes author and tags by pk, reads them nested: what a viewset's create/update answer."""

    author = AuthorSerializer(read_only=True)
    author_id = serializers.PrimaryKeyRelatedField(
        source="author", queryset=Author.objects.all(), write_only=True
    )
    tags = TagSerializer(many=True, read_only=True)
    tag_ids = serializers.PrimaryKeyRelatedField(
        source="tags", many=True, queryset=Tag.objects.all(), write_only=True
    )

    class Meta:
        model = Book
        fields = ["id", "title", "author", "author_id", "tags", "tag_ids"]
