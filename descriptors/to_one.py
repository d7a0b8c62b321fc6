"""Strict descriptors for the to-one kinds: forward FK / one-to-one / parent link, reverse one-to-one."""

from __future__ import annotations

from typing import Any

from django.db.models import Model
from django.db.models.fields.related_descriptors import (
    ForwardManyToOneDescriptor,
    ForwardOneToOneDescriptor,
    ReverseOneToOneDescriptor,
)

from relations.state import forward_needs_query

from .guard import check


class ForwardGuard:
    """Mixin for ``ForwardManyToOneDescriptor`` and its subclasses."""

    field: Any

    def __get__(self, instance: Model | None, cls: Any = None) -> Any:
        __tracebackhide__ = __traceback_hide__ = True
        if (
            instance is not None
            and self.field.cache_name not in instance._state.fields_cache
            and forward_needs_query(self.field, instance)
            and (error := check(self, instance)) is not None
        ):
            raise error
        return super().__get__(instance, cls)  # type: ignore[misc]


class ReverseOneGuard:
    """Mixin for ``ReverseOneToOneDescriptor`` and its subclasses."""

    related: Any

    def __get__(self, instance: Model | None, cls: Any = None) -> Any:
        __tracebackhide__ = __traceback_hide__ = True
        if (
            instance is not None
            and not self.related.is_cached(instance)
            and instance._is_pk_set()  # type: ignore[attr-defined]
            and (error := check(self, instance)) is not None
        ):
            raise error
        return super().__get__(instance, cls)  # type: ignore[misc]


class StrictForwardManyToOneDescriptor(ForwardGuard, ForwardManyToOneDescriptor):  # type: ignore[type-arg]
    """``book.author``: a ForeignKey, readable once loaded."""


class StrictForwardOneToOneDescriptor(ForwardGuard, ForwardOneToOneDescriptor):  # type: ignore[type-arg]
    """``profile.author`` and ``restaurant.place_ptr``: a OneToOneField, readable once loaded."""


class StrictReverseOneToOneDescriptor(ReverseOneGuard, ReverseOneToOneDescriptor):  # type: ignore[type-arg]
    """``author.profile``: the reverse side of a OneToOneField, readable once loaded."""
