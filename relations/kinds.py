"""What kind of relation a Django descriptor manages, in words a user understands.

Descriptors (to word an error) and loaders (to pick a strategy) both ask the same
question of a descriptor, so the answer lives here, in the core, once.  Nothing
here touches a database.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.db.models import Model
from django.db.models.fields.related_descriptors import (
    ForwardManyToOneDescriptor,
    ForwardOneToOneDescriptor,
    ManyToManyDescriptor,
    ReverseManyToOneDescriptor,
    ReverseOneToOneDescriptor,
)


@cache
def generic_classes() -> tuple[type, type]:
    """(generic foreign key descriptor class, generic relation descriptor class).

    Imported on first use: the contenttypes module defines a model, so it cannot be
    imported before the app registry is ready.  On Django 5.2 the GenericForeignKey
    field is its own descriptor; Django 6.1 has a GenericForeignKeyDescriptor.
    """
    from django.apps import apps

    if not apps.is_installed("django.contrib.contenttypes"):
        return _NoGeneric, _NoGeneric
    from django.contrib.contenttypes import fields

    gfk = getattr(fields, "GenericForeignKeyDescriptor", fields.GenericForeignKey)
    return gfk, fields.ReverseGenericManyToOneDescriptor


class _NoGeneric:
    """Stands for the generic descriptor classes when contenttypes is not installed."""


class Kind(enum.Enum):
    """The relation kinds of Django's relation model."""

    FORWARD_FOREIGN_KEY = "forward foreign key"
    FORWARD_ONE_TO_ONE = "forward one-to-one"
    PARENT_LINK = "multi-table inheritance parent link"
    REVERSE_ONE_TO_ONE = "reverse one-to-one"
    REVERSE_FOREIGN_KEY = "reverse foreign key"
    MANY_TO_MANY = "many-to-many"
    REVERSE_MANY_TO_MANY = "reverse many-to-many"
    GENERIC_FOREIGN_KEY = "generic foreign key"
    GENERIC_RELATION = "generic relation"

    @property
    def many(self) -> bool:
        """True for the kinds whose value is a set of objects (a manager)."""
        return self in _TO_MANY

    @property
    def fix_method(self) -> str:
        """The QuerySet method that loads this kind along with its rows."""
        return "select_related" if self in _JOINABLE else "prefetch_related"


_TO_MANY = frozenset(
    {
        Kind.REVERSE_FOREIGN_KEY,
        Kind.MANY_TO_MANY,
        Kind.REVERSE_MANY_TO_MANY,
        Kind.GENERIC_RELATION,
    }
)
# A parent link is not among them: Django always joins the parent's columns and
# ignores select_related() on the link; what loads it once they are deferred is
# prefetch_related().
_JOINABLE = frozenset(
    {
        Kind.FORWARD_FOREIGN_KEY,
        Kind.FORWARD_ONE_TO_ONE,
        Kind.REVERSE_ONE_TO_ONE,
    }
)


def kind_of(descriptor: Any) -> Kind | None:
    """The kind of relation ``descriptor`` manages, or None if it is no relation."""
    # Most specific classes first: ForwardOneToOne subclasses ForwardManyToOne;
    # ManyToMany and the generic reverse descriptor subclass ReverseManyToOne.
    if isinstance(descriptor, ForwardOneToOneDescriptor):
        if descriptor.field.remote_field.parent_link:
            return Kind.PARENT_LINK
        return Kind.FORWARD_ONE_TO_ONE
    if isinstance(descriptor, ForwardManyToOneDescriptor):
        return Kind.FORWARD_FOREIGN_KEY
    if isinstance(descriptor, ReverseOneToOneDescriptor):
        return Kind.REVERSE_ONE_TO_ONE
    gfk_descriptor, generic_relation_descriptor = generic_classes()
    if isinstance(descriptor, generic_relation_descriptor):
        return Kind.GENERIC_RELATION
    if isinstance(descriptor, ManyToManyDescriptor):  # a ReverseManyToOne subclass
        return Kind.REVERSE_MANY_TO_MANY if descriptor.reverse else Kind.MANY_TO_MANY
    if isinstance(descriptor, ReverseManyToOneDescriptor):
        return Kind.REVERSE_FOREIGN_KEY
    if isinstance(descriptor, gfk_descriptor):
        return Kind.GENERIC_FOREIGN_KEY
    return None


def gfk_field(descriptor: Any) -> Any:
    """The GenericForeignKey field behind a generic foreign key descriptor."""
    from django.contrib.contenttypes.fields import GenericForeignKey

    if isinstance(descriptor, GenericForeignKey):  # Django 5.2: the field, or our access to it
        return descriptor.__dict__.get("field", descriptor)
    return descriptor.field


@dataclass(frozen=True)
class RelationInfo:
    """One relation as seen from one model: its name, kind and Django descriptor."""

    model: type[Model]
    name: str
    kind: Kind
    descriptor: Any

    @property
    def many(self) -> bool:
        return self.kind.many

    @property
    def target(self) -> type[Model] | None:
        """The related model; None for a generic foreign key (any model)."""
        d = self.descriptor
        if self.kind in (Kind.FORWARD_FOREIGN_KEY, Kind.FORWARD_ONE_TO_ONE, Kind.PARENT_LINK):
            return d.field.remote_field.model  # type: ignore[no-any-return]
        if self.kind is Kind.REVERSE_ONE_TO_ONE:
            return d.related.related_model  # type: ignore[no-any-return]
        if self.kind is Kind.GENERIC_FOREIGN_KEY:
            return None
        if self.kind is Kind.GENERIC_RELATION:
            return d.field.remote_field.model  # type: ignore[no-any-return]
        if self.kind is Kind.REVERSE_FOREIGN_KEY:
            return d.rel.related_model  # type: ignore[no-any-return]
        rel = d.rel  # many-to-many
        return rel.related_model if d.reverse else rel.model  # type: ignore[no-any-return]

    def describe(self) -> str:
        """A phrase such as 'a foreign key to Author' for messages."""
        d = self.descriptor
        target = self.target.__name__ if self.target is not None else "any model"
        if self.kind is Kind.FORWARD_FOREIGN_KEY:
            return f"a foreign key to {target}"
        if self.kind is Kind.FORWARD_ONE_TO_ONE:
            return f"a one-to-one field to {target}"
        if self.kind is Kind.PARENT_LINK:
            return f"the multi-table inheritance link to the parent {target}"
        if self.kind is Kind.GENERIC_FOREIGN_KEY:
            return "a generic foreign key"
        if self.kind is Kind.GENERIC_RELATION:
            return f"a generic relation to {target}"
        if self.kind is Kind.MANY_TO_MANY:
            return f"a many-to-many field to {target}"
        field = d.related.field if self.kind is Kind.REVERSE_ONE_TO_ONE else d.rel.field
        kind = {
            Kind.REVERSE_ONE_TO_ONE: "one-to-one field",
            Kind.REVERSE_FOREIGN_KEY: "foreign key",
            Kind.REVERSE_MANY_TO_MANY: "many-to-many field",
        }[self.kind]
        return f"the reverse side of the {kind} {field.model.__name__}.{field.name}"


def relation_info(model: type[Model], name: str, descriptor: Any) -> RelationInfo | None:
    """Describe ``model.<name>`` if ``descriptor`` (its class attribute) is a relation."""
    kind = kind_of(descriptor)
    if kind is None:
        return None
    return RelationInfo(model=model, name=name, kind=kind, descriptor=descriptor)


def attribute_name(descriptor: Any) -> str:
    """The attribute name under which a relation descriptor sits on its model."""
    kind = kind_of(descriptor)
    if kind is Kind.REVERSE_ONE_TO_ONE:
        return _accessor(descriptor.related)
    if kind is Kind.REVERSE_FOREIGN_KEY or kind is Kind.REVERSE_MANY_TO_MANY:
        return _accessor(descriptor.rel)
    if kind is Kind.GENERIC_FOREIGN_KEY:
        return str(gfk_field(descriptor).name)
    return descriptor.field.name  # type: ignore[no-any-return]


def _accessor(rel: Any) -> str:
    # Custom ForeignObject subclasses may build a reverse descriptor on an object
    # that is not a ForeignObjectRel and has no accessor name.
    name = getattr(rel, "accessor_name", None) or getattr(rel, "name", None)
    return str(name) if name else type(rel).__name__
