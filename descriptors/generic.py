"""Strict descriptors for contenttypes' generic relations.

Imported only once the app registry is ready (``django.contrib.contenttypes.fields``
defines models).  On Django 6.1 the field has a separate ``GenericForeignKeyDescriptor``,
which is subclassed.  On Django 5.2 the ``GenericForeignKey`` field is its own
descriptor; changing the field's class would show in ``_meta`` (Django's own tests of
field flags notice), so the model class gets a small delegating descriptor instead,
which still answers class access with the field itself.
"""

from __future__ import annotations

from typing import Any

from django.contrib.contenttypes import fields as ct_fields
from django.db.models import Model

from relations.errors import RelationNotLoaded
from relations.kinds import generic_classes, gfk_field
from relations.state import gfk_needs_query, points_nowhere

from .guard import check
from .to_many import ToManyGuard

GenericForeignKeyDescriptorBase, ReverseGenericManyToOneDescriptorBase = generic_classes()


def _known_none(descriptor: Any, instance: Model) -> bool:
    """True when the answer is None without any query."""
    field = gfk_field(descriptor)
    # Django would still run "WHERE pk IS NULL"; the answer is known.
    return not field.is_cached(instance) and points_nowhere(field, instance)


def _error(descriptor: Any, instance: Model) -> RelationNotLoaded | None:
    """The policy's RelationNotLoaded if reading needs a query it does not allow."""
    if gfk_needs_query(gfk_field(descriptor), instance):
        return check(descriptor, instance)
    return None


class GenericForeignGuard:
    """Mixin for the generic foreign key descriptor (Django 6.1)."""

    def __get__(self, instance: Model | None, cls: Any = None) -> Any:
        __tracebackhide__ = __traceback_hide__ = True
        if instance is not None:
            if _known_none(self, instance):
                return None
            if (error := _error(self, instance)) is not None:
                raise error
        return super().__get__(instance, cls)  # type: ignore[misc]


class StrictGenericForeignKeyAccess(ct_fields.GenericForeignKey):
    """``comment.target`` on Django 5.2: guards reads, then lets the field answer.

    A GenericForeignKey subclass that delegates every attribute to the real field, so
    contenttypes' system checks (which look for GenericForeignKey instances in the
    model's ``vars()``) still find and check it.
    """

    def __init__(self, field: Any) -> None:  # the field is already set up: no super()
        self.__dict__["field"] = field

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["field"], name)

    def __get__(self, instance: Model | None, cls: Any = None) -> Any:
        __tracebackhide__ = __traceback_hide__ = True
        if instance is None:
            return self.field
        if _known_none(self, instance):
            return None
        if (error := _error(self, instance)) is not None:
            raise error
        return self.field.__get__(instance, cls)

    def __set__(self, instance: Model, value: Any) -> None:
        self.field.__set__(instance, value)


class StrictGenericForeignKeyDescriptor(GenericForeignGuard, GenericForeignKeyDescriptorBase):  # type: ignore[misc,valid-type]
    """``comment.target``: a GenericForeignKey, readable once loaded."""


class StrictReverseGenericManyToOneDescriptor(ToManyGuard, ReverseGenericManyToOneDescriptorBase):  # type: ignore[misc,valid-type]
    """``book.comments``: a GenericRelation."""


GFK_FIELD_IS_DESCRIPTOR = GenericForeignKeyDescriptorBase is ct_fields.GenericForeignKey
