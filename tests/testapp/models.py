"""A model for every relation kind Django has."""

from django.contrib.contenttypes.fields import GenericForeignKey, GenericRelation
from django.contrib.contenttypes.models import ContentType
from django.db import models


class Publisher(models.Model):
    name = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.name


class Author(models.Model):
    name = models.CharField(max_length=100)
    publisher = models.ForeignKey(Publisher, models.SET_NULL, null=True, related_name="authors")
    mentor = models.ForeignKey("self", models.SET_NULL, null=True, related_name="mentees")

    def __str__(self) -> str:
        return self.name


class Profile(models.Model):
    author = models.OneToOneField(Author, models.CASCADE, related_name="profile")
    bio = models.TextField(default="")


class Tag(models.Model):
    name = models.CharField(max_length=50)

    def __str__(self) -> str:
        return self.name


class Comment(models.Model):
    content_type = models.ForeignKey(ContentType, models.CASCADE, null=True)
    object_id = models.PositiveIntegerField(null=True)
    target = GenericForeignKey("content_type", "object_id")
    text = models.CharField(max_length=100, default="")


class Book(models.Model):
    title = models.CharField(max_length=100)
    author = models.ForeignKey(Author, models.CASCADE, related_name="books")
    editor = models.ForeignKey(Author, models.SET_NULL, null=True, related_name="edited_books")
    tags = models.ManyToManyField(Tag, related_name="books")
    comments = GenericRelation(Comment)

    def __str__(self) -> str:
        return self.title


class BookProxy(Book):
    class Meta:
        proxy = True


class ActiveManager(models.Manager["Chapter"]):
    def get_queryset(self) -> "models.QuerySet[Chapter]":
        return super().get_queryset().filter(deleted=False)


class Chapter(models.Model):
    """Its default manager hides deleted rows, as soft-delete managers do."""

    book = models.ForeignKey(Book, models.CASCADE, related_name="chapters")
    number = models.IntegerField()
    deleted = models.BooleanField(default=False)
    objects = ActiveManager()
    all_objects = models.Manager()

    class Meta:
        ordering = ["number"]
        base_manager_name = "all_objects"


class Club(models.Model):
    name = models.CharField(max_length=50)
    members = models.ManyToManyField(Author, through="Membership", related_name="clubs")


class Membership(models.Model):
    club = models.ForeignKey(Club, models.CASCADE)
    author = models.ForeignKey(Author, models.CASCADE)
    role = models.CharField(max_length=20, default="member")


class Place(models.Model):
    name = models.CharField(max_length=50)
    owner = models.ForeignKey(Author, models.SET_NULL, null=True, related_name="places")


class Restaurant(Place):
    serves_pizza = models.BooleanField(default=False)


class Timestamped(models.Model):
    created_by = models.ForeignKey(Author, models.SET_NULL, null=True, related_name="%(class)s_created")

    class Meta:
        abstract = True


class Review(Timestamped):
    book = models.ForeignKey(Book, models.CASCADE, related_name="reviews")
    stars = models.IntegerField(default=3)
