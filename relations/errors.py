"""The library's exceptions and the wording of their messages.

``RelationNotLoaded`` is deliberately not an ``AttributeError``: ``hasattr()``,
``getattr(obj, name, None)`` and the template engine swallow those, which would turn
a missing ``select_related`` into a silent ``None``.  Both exceptions keep their
message and attributes through pickling (Django's parallel test runner, pytest-xdist
and task queues pickle exceptions): their only positional argument is the message,
and the rest travels in ``__dict__``.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any

from django.core.exceptions import FieldDoesNotExist, FieldError

if TYPE_CHECKING:
    from django.db.models import Model

    from .kinds import RelationInfo

try:  # Django >= 6.1
    from django.core.exceptions import FieldFetchBlocked as _Blocked
except ImportError:  # Django 5.2
    _Blocked = FieldError  # type: ignore[misc,assignment]


class RelationNotLoaded(_Blocked):
    """Reading a relation that is not loaded would run a hidden query.

    Subclasses ``django.core.exceptions.FieldFetchBlocked`` on Django >= 6.1 (so code
    that handles Django's ``FETCH_RAISE`` handles this too) and ``FieldError`` on
    older versions.  Attributes: ``model`` (label), ``relation`` (attribute name),
    ``pk`` and ``kind`` (a phrase such as "forward foreign key").
    """

    def __init__(
        self,
        message: str,
        *,
        model: str = "",
        relation: str = "",
        pk: Any = None,
        kind: str = "",
    ) -> None:
        super().__init__(message)
        self.model = model
        self.relation = relation
        self.pk = pk
        self.kind = kind

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class UnknownRelation(FieldDoesNotExist):
    """A name given to ``R()``, ``aprefetch()`` or ``prefetch()`` is not a relation.

    Raised before any query.  Attributes: ``model`` (label), ``name`` (the unknown
    name), ``relations`` (the valid relation names of the model).
    """

    def __init__(
        self,
        message: str,
        *,
        model: str = "",
        name: str = "",
        relations: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message)
        self.model = model
        self.name = name
        self.relations = relations

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class RelationLazyLoadWarning(UserWarning):
    """Emitted in ``warn`` mode when a relation is loaded by a hidden query."""


def describe_instance(instance: Model) -> str:
    """'Book pk=1' or 'an unsaved Book', without calling __str__ (which may read relations)."""
    name = type(instance).__name__
    if instance.pk is None:
        return f"an unsaved {name}"
    return f"{name} pk={instance.pk!r}"


def variable_name(model: type[Model]) -> str:
    """The name a user would give an instance of ``model`` in an example: 'book'."""
    return model._meta.model_name or model.__name__.lower()


def not_loaded_message(info: RelationInfo, instance: Model, reason: str, *, blocked: bool = True) -> str:
    """The message of RelationNotLoaded (or, not ``blocked``, of the warn-mode warning):
    what, on which instance, why, and the fixes."""
    model = type(instance)
    var = variable_name(model)
    name = info.name
    lines = [
        f"{model.__name__}.{name} is not loaded on {describe_instance(instance)}: "
        f"reading it would run a hidden query, which is {'blocked' if blocked else 'allowed'} ({reason}).",
        f"{model.__name__}.{name} is {info.describe()}. Load it explicitly:",
        f'  - in the queryset that fetches {model.__name__} rows: .{info.kind.fix_method}("{name}")',
        f'  - on this instance, in async code: await {var}.R("{name}")'
        f'  (in sync code: {var}.R("{name}").sync())',
        f'  - on a list of instances: await aprefetch({var}_list, "{name}")',
    ]
    if info.many:
        lines.append(
            f"Building a new query stays allowed: {var}.{name}.filter(...), "
            f"`async for x in {var}.{name}.all()`, `await {var}.{name}.acount()`."
        )
    from .plans.hints import plan_lines  # here: plans imports the loaders, which import this module

    lines.extend(plan_lines(info, instance))
    return "\n".join(lines)


def not_loaded(info: RelationInfo, instance: Model, reason: str) -> RelationNotLoaded:
    """Build the RelationNotLoaded for reading ``info`` on ``instance``."""
    return RelationNotLoaded(
        not_loaded_message(info, instance, reason),
        model=type(instance)._meta.label,
        relation=info.name,
        pk=instance.pk,
        kind=info.kind.value,
    )


def unknown_relation(
    model: type[Model],
    name: str,
    relations: tuple[str, ...],
    *,
    path: str = "",
    is_field: bool = False,
) -> UnknownRelation:
    """Build the UnknownRelation for ``name`` on ``model`` with a 'did you mean'."""
    where = f'In "{path}": ' if path and path != name else ""
    if is_field:
        head = f'"{name}" is a field of {model.__name__}, not a relation.'
    else:
        head = f'"{name}" is not a relation of {model.__name__}.'
    close = difflib.get_close_matches(name, relations, n=1, cutoff=0.6)
    hint = f' Did you mean "{close[0]}"?' if close else ""
    listing = ", ".join(relations) if relations else "(none)"
    return UnknownRelation(
        f"{where}{head}{hint} Relations of {model.__name__}: {listing}.",
        model=model._meta.label,
        name=name,
        relations=relations,
    )
