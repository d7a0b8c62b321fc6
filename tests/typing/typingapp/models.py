"""Models only the typing tests need (never migrated: mypy reads their ``_meta``)."""

from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q


class Note(models.Model):
    """A generic foreign key limited to two models: R("target") is their union."""

    content_type = models.ForeignKey(
        ContentType,
        models.CASCADE,
        limit_choices_to=Q(app_label="testapp", model="book") | Q(app_label="testapp", model="author"),
    )
    object_id = models.PositiveIntegerField()
    target = GenericForeignKey("content_type", "object_id")
