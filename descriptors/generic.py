"""Strict descriptors for contenttypes' generic relations.

Imported only once the app registry is ready (``django.contrib.contenttypes.fields``
defines models).  On Django 5.2 the ``GenericForeignKey`` field is its own
descriptor, so the strict class is a field subclass; on Django 6.1 the field has a
separate ``GenericForeignKeyDescriptor``.
"""

from __future__ import annotations

from typing import Any

from django.contrib.contenttypes import fields as ct_fields
from django.db.models import Model

from relations.kinds import generic_classes, gfk_field
from relations.state import gfk_needs_query, points_nowhere

from .guard import check
from .to_many import ToManyGuard

GenericForeignKeyDescriptorBase, ReverseGenericManyToOneDescriptorBase = generic_classes()


class GenericForeignGuard:
    """Mixin for the generic foreign key descriptor (or, on 5.2, field)."""

    def __get__(self, instance: Model | None, cls: Any = None) -> Any:
        if instance is not None:
            field = gfk_field(self)
            if not field.is_cached(instance) and points_nowhere(field, instance):
                # Django would still run "WHERE pk IS NULL"; the answer is known.
                return None
            if gfk_needs_query(field, instance):
                check(self, instance)
        return super().__get__(instance, cls)  # type: ignore[misc]


class StrictGenericForeignKeyDescriptor(GenericForeignGuard, GenericForeignKeyDescriptorBase):  # type: ignore[misc,valid-type]
    """``comment.target``: a GenericForeignKey, readable once loaded."""


class StrictReverseGenericManyToOneDescriptor(ToManyGuard, ReverseGenericManyToOneDescriptorBase):  # type: ignore[misc,valid-type]
    """``book.comments``: a GenericRelation."""


GFK_FIELD_IS_DESCRIPTOR = GenericForeignKeyDescriptorBase is ct_fields.GenericForeignKey
