"""What a pydantic model read with ``from_attributes`` reads: django-ninja schemas too.

Only called once ``plan()`` has seen a pydantic model class, so ``pydantic`` is
already imported.  For each field the attribute read is its validation alias (or
its alias, or its name):

- a name that is a relation reads it (ninja's ``ModelSchema`` names a foreign key
  ``author`` but reads ``author_id``, from the row: nothing to load; its
  many-to-many and reverse fields read the relation);
- a dotted alias (django-ninja: ``Field(alias="author.name")``) reads every hop;
- a field whose type is a schema, or a list/optional/union of one, reads the
  relation and then, on those objects, what that schema reads;
- a django-ninja resolver (``resolve_<field>``) runs code the plan cannot see.
"""

from __future__ import annotations

import sys
import types
import typing
from typing import Any

from django.apps import apps
from django.db.models import Model

from .tree import Node, Walk


def is_schema(obj: Any) -> bool:
    """A pydantic model class (django-ninja's Schema and ModelSchema are ones)."""
    module = sys.modules.get("pydantic")
    if module is None:  # pydantic not imported: obj cannot be one of its models
        return False
    return isinstance(obj, type) and issubclass(obj, module.BaseModel)


def unwrap(annotation: Any) -> Any:
    """The schema class inside ``list[X]``, ``X | None``, ``Annotated[X, ...]``; else None."""
    if is_schema(annotation):
        return annotation
    origin = typing.get_origin(annotation)
    if origin is None:
        return None
    if origin is typing.Annotated:
        return unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType) or _is_collection(origin):
        for arg in typing.get_args(annotation):
            found = unwrap(arg)
            if found is not None:
                return found
    return None


def _is_collection(origin: Any) -> bool:
    import collections.abc

    return isinstance(origin, type) and issubclass(origin, collections.abc.Iterable) and origin is not str


def model_of(schema: Any) -> type[Model] | None:
    """The model of a django-ninja ModelSchema (``Meta.model``, a class or "app.Model")."""
    model = getattr(getattr(schema, "Meta", None), "model", None)
    if isinstance(model, str):
        model = apps.get_model(model)
    return model if isinstance(model, type) and issubclass(model, Model) else None


def hints(schema: Any) -> tuple[Any, ...]:
    """The schema's own extra lookups: ``Meta.plan_lookups``."""
    return tuple(getattr(getattr(schema, "Meta", None), "plan_lookups", ()))


def read(schema: Any, node: Node, walk: Walk) -> None:
    """Add what ``schema`` reads on objects of ``node.model`` to ``node``."""
    if not walk.enter(schema, node, schema.__name__):
        return
    try:
        _read_fields(schema, node, walk)
    finally:
        walk.leave(schema, node)


def _read_fields(schema: Any, node: Node, walk: Walk) -> None:
    walk.hints(node, hints(schema), schema.__name__)
    resolvers = getattr(schema, "_ninja_resolvers", {})
    for name, field in schema.model_fields.items():
        where = f"{schema.__name__}.{name}"
        if name in resolvers:
            walk.unseen.append(f"{where} (resolve_{name})")
            continue
        key = field.validation_alias if isinstance(field.validation_alias, str) else field.alias
        reached = node.add((key or name).split("."))
        nested = unwrap(field.annotation)
        if reached is not None and reached.model is not None and nested is not None:
            read(nested, reached, walk)
