"""The benchmark schema: the same shape as the performance baseline's (shared/research/perf-baseline.md)."""

from django.db import models


class Publisher(models.Model):
    name = models.CharField(max_length=100)

    class Meta:
        app_label = "benchapp"


class Tag(models.Model):
    name = models.CharField(max_length=50)

    class Meta:
        app_label = "benchapp"


class Author(models.Model):
    name = models.CharField(max_length=100)
    publisher = models.ForeignKey(Publisher, models.CASCADE, related_name="authors")

    class Meta:
        app_label = "benchapp"


class Book(models.Model):
    title = models.CharField(max_length=200)
    author = models.ForeignKey(Author, models.CASCADE, related_name="books")
    # Decimal and aware datetime columns make row conversion cost what it costs in real schemas
    # (SQLite runs a converter per value for both).
    price = models.DecimalField(max_digits=8, decimal_places=2)
    published = models.DateTimeField()
    tags = models.ManyToManyField(Tag, related_name="books")

    class Meta:
        app_label = "benchapp"
