"""What a Django REST framework serializer reads: its fields, walked like DRF reads them.

Only called once ``plan()`` has seen a DRF serializer, so ``rest_framework`` is
already imported; this module imports it inside functions and the core never
depends on it.  The rules follow DRF's own reading code (``fields.get_attribute``,
``RelatedField.get_attribute``):

- a field reads every hop of its ``source`` (``"author.name"`` reads ``author``);
- a nested serializer (``many=True`` too) reads its ``source`` and then, on those
  objects, what it reads itself;
- a related field whose ``use_pk_only_optimization()`` holds
  (``PrimaryKeyRelatedField``, ``HyperlinkedRelatedField`` with ``lookup_field="pk"``)
  takes a forward foreign key's value from the row (``book.author_id``): it loads
  only the hops before the last one; on a to-many relation
  (``many=True``) or a reverse one-to-one it still needs the relation;
- ``source="*"`` passes the object itself: a nested serializer reads on the same
  object, a ``HyperlinkedIdentityField`` reads its key only; any other field
  (``SerializerMethodField``, a custom field) runs code the plan cannot see.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Model

from ..kinds import Kind
from .tree import Node, Walk

# The last hop a pk-only related field reads from the row instead of loading.
_KEY_ON_ROW = frozenset({Kind.FORWARD_FOREIGN_KEY, Kind.FORWARD_ONE_TO_ONE, Kind.PARENT_LINK})


def is_serializer(obj: Any) -> bool:
    """A DRF serializer class or instance (ListSerializer included)."""
    import sys

    module = sys.modules.get("rest_framework.serializers")
    if module is None:  # DRF not imported: obj cannot be one of its serializers
        return False
    base = module.BaseSerializer
    return isinstance(obj, base) or (isinstance(obj, type) and issubclass(obj, base))


def _instance(serializer: Any) -> Any:
    from rest_framework.serializers import ListSerializer  # type: ignore[import-untyped]

    if isinstance(serializer, type):
        serializer = serializer()
    while isinstance(serializer, ListSerializer):
        serializer = serializer.child
    return serializer


def model_of(serializer: Any) -> type[Model] | None:
    """The model a ModelSerializer (class, instance or list of) is declared for."""
    meta = getattr(_instance(serializer), "Meta", None)
    model = getattr(meta, "model", None)
    return model if isinstance(model, type) and issubclass(model, Model) else None


def hints(serializer: Any) -> tuple[Any, ...]:
    """The serializer's own extra lookups: ``Meta.plan_lookups``."""
    meta = getattr(_instance(serializer), "Meta", None)
    return tuple(getattr(meta, "plan_lookups", ()))


def read(serializer: Any, node: Node, walk: Walk) -> None:
    """Add what ``serializer`` reads on objects of ``node.model`` to ``node``."""
    serializer = _instance(serializer)
    where = type(serializer).__name__
    if not walk.enter(type(serializer), node, where):
        return
    try:
        walk.hints(node, hints(serializer), where)
        for name, field in serializer.fields.items():
            if not field.write_only:
                _read_field(field, f"{where}.{name}", node, walk)
    finally:
        walk.leave(type(serializer), node)


def _read_field(field: Any, where: str, node: Node, walk: Walk) -> None:
    from rest_framework.relations import (  # type: ignore[import-untyped]
        HyperlinkedIdentityField,
        ManyRelatedField,
        RelatedField,
    )
    from rest_framework.serializers import BaseSerializer

    nested = isinstance(field, BaseSerializer)
    if field.source == "*":
        if nested:
            read(field, node, walk)
        elif not isinstance(field, HyperlinkedIdentityField):
            walk.unseen.append(f"{where} ({type(field).__name__}, source='*')")
        return
    hops = list(field.source_attrs)
    pk_only = isinstance(field, RelatedField) and not isinstance(field, ManyRelatedField)
    if pk_only and field.use_pk_only_optimization():
        end = node.add(hops[:-1])
        if end is not None and _key_on_row(end, hops[-1]):
            return
    reached = node.add(hops)
    if reached is None:
        if _runs_code(node, hops):
            walk.unseen.append(f"{where} (source={field.source!r} is a method or property)")
        return
    if nested and reached.model is not None:
        read(field, reached, walk)


def _key_on_row(node: Node, name: str) -> bool:
    if node.model is None:
        return False
    from ..loaders import resolve

    info = resolve.relations_of(node.model).get(name)
    return info is not None and info.kind in _KEY_ON_ROW


def _runs_code(node: Node, hops: list[str]) -> bool:
    # Where the path leaves the relations: a model method or property may read
    # relations the plan cannot see; a plain field reads nothing more.
    for hop in hops:
        if node.model is None:
            return False
        nxt = node.children.get(hop)
        if nxt is None:
            attr = getattr(node.model, hop, None)
            return callable(attr) or isinstance(attr, property)
        node = nxt
    return False
