"""The bookstore: one model per relation kind the demo shows.

Publisher  <-FK-  Author  <-FK-  Book  -M2M->  Tag
                    ^             ^
              Profile (1:1)   Comment (generic FK, also on authors)
"""

from django.contrib.contenttypes.fields import GenericForeignKey, GenericRelation
from django.contrib.contenttypes.models import ContentType
from django.db import models


class Comment(models.Model):
    """A comment on anything: a book or an author (generic foreign key)."""

    content_type = models.ForeignKey(ContentType, models.CASCADE)
    object_id = models.PositiveBigIntegerField()
    target = GenericForeignKey("content_type", "object_id")
    text = models.CharField(max_length=200)

    class Meta:
        indexes = [models.Index(fields=["content_type", "object_id"])]

    def __str__(self) -> str:
        return self.text


class Publisher(models.Model):
    name = models.CharField(max_length=100, unique=True)

    def __str__(self) -> str:
        return self.name


class Author(models.Model):
    name = models.CharField(max_length=100)
    publisher = models.ForeignKey(Publisher, models.PROTECT, related_name="authors")
    comments = GenericRelation(Comment, related_query_name="author")

    def __str__(self) -> str:
        return self.name


class Profile(models.Model):
    author = models.OneToOneField(Author, models.CASCADE, related_name="profile")
    bio = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"Profile #{self.pk}"  # not self.author: that would be a relation read


class Tag(models.Model):
    name = models.CharField(max_length=50, unique=True)

    def __str__(self) -> str:
        return self.name


class Book(models.Model):
    title = models.CharField(max_length=200)
    author = models.ForeignKey(Author, models.CASCADE, related_name="books")
    tags = models.ManyToManyField(Tag, related_name="books", blank=True)
    comments = GenericRelation(Comment, related_query_name="book")

    def __str__(self) -> str:
        return self.title
