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
from dataclasses import dataclass
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


@dataclass(frozen=True)
class ReadContext:
    """Where a relation was read, as far as the fixes to suggest depend on it."""

    in_event_loop: bool = False
    template: tuple[str, int] | None = None  # (template name, line) being rendered
    view: str = ""  # dotted path of the view whose request renders the template


def not_loaded_message(
    info: RelationInfo,
    instance: Model,
    reason: str,
    *,
    blocked: bool = True,
    context: ReadContext = ReadContext(),
) -> str:
    """The message of RelationNotLoaded (or, not ``blocked``, of the warn-mode warning):
    what, on which instance, why, and the fixes that fit where it was read (async
    forms inside an event loop, sync forms elsewhere, the view for a template)."""
    model = type(instance)
    var = variable_name(model)
    name = info.name
    lines = [
        f"{model.__name__}.{name} is not loaded on {describe_instance(instance)}: "
        f"reading it would run a hidden query, which is {'blocked' if blocked else 'allowed'} ({reason}).",
    ]
    if context.template is not None:
        template, line = context.template
        view = f" ({context.view})" if context.view else ""
        lines.append(
            f'It was read while rendering the template "{template}", line {line}: '
            f"load it in the queryset of the view{view} that renders it."
        )
        where = "the view's queryset that fetches"
    else:
        where = "the queryset that fetches"
    lines += [
        f"{model.__name__}.{name} is {info.describe()}. Load it explicitly:",
        f'  - in {where} {model.__name__} rows: .{info.kind.fix_method}("{name}")',
    ]
    if context.in_event_loop:
        lines += [
            f'  - on this instance: await {var}.R("{name}")',
            f'  - on a list of instances: await aprefetch({var}_list, "{name}")',
        ]
    else:
        lines += [
            f'  - on this instance: {var}.R("{name}").sync()',
            f'  - on a list of instances: prefetch({var}_list, "{name}")',
        ]
    if info.many and context.in_event_loop:
        lines.append(
            f"Building a new query stays allowed: {var}.{name}.filter(...), "
            f"`async for x in {var}.{name}.all()`, `await {var}.{name}.acount()`."
        )
    elif info.many:
        lines.append(f"Building a new query stays allowed: {var}.{name}.filter(...).")

    from .plans.hints import plan_lines  # here: plans imports the loaders, which import this module

    lines.extend(plan_lines(info, instance))
    return "\n".join(lines)


def not_loaded(
    info: RelationInfo, instance: Model, reason: str, *, context: ReadContext = ReadContext()
) -> RelationNotLoaded:
    """Build the RelationNotLoaded for reading ``info`` on ``instance``."""
    return RelationNotLoaded(
        not_loaded_message(info, instance, reason, context=context),
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
    accessor: str = "",
) -> UnknownRelation:
    """Build the UnknownRelation for ``name`` on ``model`` with a 'did you mean'.

    ``accessor``: ``name`` is the query name of the reverse relation with this
    attribute name (``"book"`` for ``author.books``), which is the name to use.
    """
    where = f'In "{path}": ' if path and path != name else ""
    if accessor:
        head = (
            f'"{name}" is the query name of the reverse relation {model.__name__}.{accessor} '
            f"(the name for filters: {model.__name__}.objects.filter({name}__...)); "
            f'on an instance the relation is "{accessor}".'
        )
    elif is_field:
        head = f'"{name}" is a field of {model.__name__}, not a relation.'
    else:
        head = f'"{name}" is not a relation of {model.__name__}.'
    close = [] if accessor else difflib.get_close_matches(name, relations, n=1, cutoff=0.6)
    hint = f' Did you mean "{close[0]}"?' if close else ""
    listing = ", ".join(relations) if relations else "(none)"
    return UnknownRelation(
        f"{where}{head}{hint} Relations of {model.__name__}: {listing}.",
        model=model._meta.label,
        name=name,
        relations=relations,
    )
