"""Putting the strict descriptors on every model.

Two mechanisms, as the research on Django's internals recommends:

1. **Factory patch**, before any model class exists (when the ``relations`` app
   config is created): Django's fields find their descriptor classes in class
   attributes and module globals, which now name the strict classes.  Contenttypes'
   globals are patched when the ``relations`` app imports its models, first of all
   apps, since that module cannot be imported earlier.
2. **Walk**, in ``ready()``: every descriptor still of a Django class (models
   imported before set-up, fields that pin Django's classes, third-party descriptor
   subclasses) has its ``__class__`` swapped for a strict subclass of its own class.
   Swapping keeps the descriptor's identity and state.  It is idempotent, so the
   repeated ``ready()`` of ``override_settings(INSTALLED_APPS=...)`` is harmless.
"""

from __future__ import annotations

import sys
from typing import Any

from django.apps.registry import Apps
from django.db.models.fields import related
from django.db.models.fields.related_descriptors import (
    ForwardManyToOneDescriptor,
    ForwardOneToOneDescriptor,
    ManyToManyDescriptor,
    ReverseManyToOneDescriptor,
    ReverseOneToOneDescriptor,
)

from relations.kinds import generic_classes

from .to_many import StrictManyToManyDescriptor, StrictReverseManyToOneDescriptor, ToManyGuard
from .to_one import (
    ForwardGuard,
    ReverseOneGuard,
    StrictForwardManyToOneDescriptor,
    StrictForwardOneToOneDescriptor,
    StrictReverseOneToOneDescriptor,
)

# Django class -> (guard mixin, ready-made strict class).  Most specific first.
_GUARDS: list[tuple[type, type, type]] = [
    (ForwardOneToOneDescriptor, ForwardGuard, StrictForwardOneToOneDescriptor),
    (ForwardManyToOneDescriptor, ForwardGuard, StrictForwardManyToOneDescriptor),
    (ReverseOneToOneDescriptor, ReverseOneGuard, StrictReverseOneToOneDescriptor),
    (ManyToManyDescriptor, ToManyGuard, StrictManyToManyDescriptor),
    (ReverseManyToOneDescriptor, ToManyGuard, StrictReverseManyToOneDescriptor),
]
_made: dict[type, type] = {}


def strict_class(cls: type) -> type | None:
    """The strict class for a Django descriptor class (None if it is not one)."""
    for django_cls, guard, ready_made in _GUARDS:
        if issubclass(cls, guard):
            return cls  # already strict
        if issubclass(cls, django_cls):
            if cls is django_cls:
                return ready_made
            made = _made.get(cls)
            if made is None:  # a third-party subclass keeps its own behaviour
                made = _made[cls] = type(f"Strict{cls.__name__}", (guard, cls), {"__module__": __name__})
            return made
    return None


def install_core() -> None:
    """Patch Django's descriptor factories for FK, one-to-one and many-to-many."""
    related.ForeignObject.forward_related_accessor_class = StrictForwardManyToOneDescriptor
    related.ForeignObject.related_accessor_class = StrictReverseManyToOneDescriptor
    related.OneToOneField.forward_related_accessor_class = StrictForwardOneToOneDescriptor
    related.OneToOneField.related_accessor_class = StrictReverseOneToOneDescriptor
    related.ManyToManyDescriptor = StrictManyToManyDescriptor  # type: ignore[misc,assignment]


def install_generic() -> None:
    """Patch contenttypes' descriptor factories (needs the app registry populated)."""
    generic_classes()  # remember Django's own classes before the globals change
    from django.contrib.contenttypes import fields as ct_fields

    from . import generic

    _GUARDS[:] = [
        (
            generic.ReverseGenericManyToOneDescriptorBase,
            ToManyGuard,
            generic.StrictReverseGenericManyToOneDescriptor,
        ),
        *(g for g in _GUARDS if g[0] is not generic.ReverseGenericManyToOneDescriptorBase),
    ]
    ct_fields.ReverseGenericManyToOneDescriptor = generic.StrictReverseGenericManyToOneDescriptor  # type: ignore[misc]
    if generic.GFK_FIELD_IS_DESCRIPTOR:
        _patch_gfk_contribute(ct_fields.GenericForeignKey)
        return
    if not any(g[0] is generic.GenericForeignKeyDescriptorBase for g in _GUARDS):
        _GUARDS.append(
            (
                generic.GenericForeignKeyDescriptorBase,
                generic.GenericForeignGuard,
                generic.StrictGenericForeignKeyDescriptor,
            )
        )
    ct_fields.GenericForeignKeyDescriptor = generic.StrictGenericForeignKeyDescriptor  # type: ignore[misc]


def _patch_gfk_contribute(gfk_cls: Any) -> None:
    # Django 5.2: the field puts itself on the model; put the strict access there instead.
    original = gfk_cls.contribute_to_class
    if getattr(original, "_relations_patched", False):
        return

    def contribute_to_class(self: Any, cls: Any, name: str, **kwargs: Any) -> None:
        original(self, cls, name, **kwargs)
        _wrap_gfk(cls, self.name, self)

    contribute_to_class._relations_patched = True  # type: ignore[attr-defined]
    gfk_cls.contribute_to_class = contribute_to_class


def _wrap_gfk(model: Any, name: str, field: Any) -> None:
    from .generic import StrictGenericForeignKeyAccess

    setattr(model, name, StrictGenericForeignKeyAccess(field))


def _is_bare_gfk_field(attr: Any) -> bool:
    generic = sys.modules.get("relations.descriptors.generic")  # imported only with contenttypes
    if generic is None or not generic.GFK_FIELD_IS_DESCRIPTOR:
        return False
    from django.contrib.contenttypes.fields import GenericForeignKey

    return isinstance(attr, GenericForeignKey) and not isinstance(attr, generic.StrictGenericForeignKeyAccess)


def replace_all(registry: Apps) -> int:
    """Swap every Django descriptor left on the registry's models; return how many."""
    swapped = 0
    for model in registry.get_models(include_auto_created=True, include_swapped=True):
        for name, attr in list(vars(model).items()):
            if _is_bare_gfk_field(attr):  # Django 5.2, a model created before the patch
                _wrap_gfk(model, name, attr)
                swapped += 1
                continue
            cls = type(attr)
            strict = strict_class(cls)
            if strict is not None and strict is not cls:
                attr.__class__ = strict
                # A manager class cached before the swap would skip the guard.
                attr.__dict__.pop("related_manager_cls", None)
                swapped += 1
    return swapped


def unreplaced(registry: Apps) -> list[str]:
    """'app.Model.name' of every relation descriptor that is not strict (for checks)."""
    missing = []
    for model in registry.get_models(include_auto_created=True, include_swapped=True):
        for name, attr in vars(model).items():
            strict = strict_class(type(attr))
            if strict is not None and strict is not type(attr):
                missing.append(f"{model._meta.label}.{name}")
    return missing
