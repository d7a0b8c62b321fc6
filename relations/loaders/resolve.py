"""Relation names: from a model and a name (or a ``__`` path) to a strategy.

A name is valid exactly when plain attribute access on the model reaches a relation
descriptor (``book.author``, ``author.books``, ``author.book_set``): the class
hierarchy is searched the way Python looks attributes up.  Unknown names raise
``UnknownRelation`` with the valid names and a "did you mean", before any query.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.db.models import ForeignObjectRel, Model

from ..errors import unknown_relation
from ..kinds import RelationInfo, relation_info
from .strategies import STRATEGIES, Strategy

_relations: dict[type[Model], dict[str, RelationInfo]] = {}
_strategies: dict[tuple[type[Model], str], Strategy] = {}


def relations_of(model: type[Model]) -> dict[str, RelationInfo]:
    """Every relation reachable as ``model.<name>``, by name."""
    found = _relations.get(model)
    if found is None:
        found = {}
        for klass in model.__mro__:
            for name, attr in vars(klass).items():
                if name not in found:
                    info = relation_info(model, name, attr)
                    if info is not None:
                        found[name] = info
        found = dict(sorted(found.items()))
        if apps.ready:  # reverse accessors are still being added while apps load
            _relations[model] = found
    return found


def _is_field(model: type[Model], name: str) -> bool:
    try:
        model._meta.get_field(name)
    except FieldDoesNotExist:
        return any(f.attname == name for f in model._meta.concrete_fields)
    return True


def _accessor_of_query_name(model: type[Model], name: str, found: dict[str, RelationInfo]) -> str:
    """The accessor ("books") of the reverse relation whose query name is ``name`` ("book"), or ""."""
    try:
        field = model._meta.get_field(name)  # finds reverse relations by their query name
    except FieldDoesNotExist:
        return ""
    accessor = field.get_accessor_name() if isinstance(field, ForeignObjectRel) else None
    return accessor if accessor is not None and accessor in found else ""


def relation(model: type[Model], name: str, path: str = "") -> RelationInfo:
    """The relation ``name`` of ``model``; UnknownRelation if there is none."""
    found = relations_of(model)
    info = found.get(name)
    if info is None:
        raise unknown_relation(
            model,
            name,
            tuple(found),
            path=path,
            is_field=_is_field(model, name),
            accessor=_accessor_of_query_name(model, name, found),
        )
    return info


def strategy(model: type[Model], name: str, path: str = "") -> Strategy:
    """The (cached) loading strategy for ``model.<name>``."""
    key = (model, name)
    found = _strategies.get(key)
    if found is None:
        info = relation(model, name, path)
        found = STRATEGIES[info.kind](info)
        if apps.ready:
            _strategies[key] = found
    return found


def split_path(path: Any) -> list[str]:
    """``"author__publisher"`` -> ``["author", "publisher"]``, with type and shape checks."""
    if not isinstance(path, str):
        raise TypeError(f"A relation path must be a str, got {type(path).__name__}.")
    hops = path.split("__")
    if not path or any(not hop for hop in hops):
        raise ValueError(f'{path!r} is not a relation path such as "author" or "author__publisher".')
    return hops


def is_many(model: type[Model], path: str) -> bool:
    """Does ``R(obj, path)`` give a list: is any hop known from the models to-many?

    Hops after a generic foreign key depend on the data; they count when loaded.
    """
    current: type[Model] | None = model
    for hop in split_path(path):
        if current is None:
            return False
        info = relation(current, hop, path)
        if info.many:
            return True
        current = info.target
    return False


def check_path(
    model: type[Model], path: str, attrs: dict[tuple[type[Model], str], type[Model] | None] | None = None
) -> list[type[Model] | None]:
    """Resolve every hop whose model is known statically; raise UnknownRelation otherwise.

    Returns the model reached after each hop (``[model, after hop 1, ...]``); None
    once a generic foreign key makes the rest depend on the data.  ``attrs`` maps
    (model, to_attr) of earlier ``Prefetch(to_attr=...)`` lookups to their model, so
    later lookups can traverse them as Django allows.
    """
    models: list[type[Model] | None] = [model]
    current: type[Model] | None = model
    for hop in split_path(path):
        if current is not None:
            if attrs is not None and (current, hop) in attrs:
                current = attrs[(current, hop)]
            else:
                current = relation(current, hop, path).target
        models.append(current)
    return models
