"""``plan()``: the relations a serializer or schema will read, as prefetch lookups.

```python
from relations import plan, aprefetch

plan(BookSerializer)             # ('author', 'author__publisher', 'tags'): one query per path
Book.objects.prefetch_related(*plan(BookSerializer))
await aprefetch(books, *plan(BookOut))           # a django-ninja / pydantic schema
plan(BookSerializer).unseen                      # fields whose reads it cannot see
```

The lookups are relation paths, parents first: what a nested serializer reads is a
longer path (``"author__publisher"``), not the ``queryset=`` of a ``Prefetch("author")``.
Both cost one query per hop, but Django (and ``prefetch()``) skips a ``Prefetch``'s
queryset, its inner lookups included, where the relation is already loaded (a
created object's ``book.author`` is, from the request), while a path still loads
what lies beyond.  To narrow or order one level, pass your own ``Prefetch`` for it.

Readers: ``drf`` (Django REST framework serializers) and ``schemas`` (pydantic
models, django-ninja ``Schema``/``ModelSchema``).  Neither framework is imported
here: an object is recognised only if its framework is already imported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db.models import Model, Prefetch

from ..loaders import resolve
from . import drf, schemas
from .tree import Node, Walk

if TYPE_CHECKING:
    _Lookups = tuple[str | Prefetch[Any], ...]
else:  # Prefetch is generic in django-stubs only
    _Lookups = tuple


class Plan(_Lookups):
    """The lookups of a plan (a tuple: ``*plan(...)`` passes them on), with:

    - ``paths``: every relation path loaded, one query per path (the lookups, with a
      user's ``Prefetch`` as its path);
    - ``unseen``: the fields whose reads the plan cannot see (a
      ``SerializerMethodField``, a ``resolve_<field>``, a method or property in a
      ``source``, a custom field with ``source="*"``), as "Serializer.field (why)";
    - ``model``: the model the plan is for;
    - ``reads``: (model, relation name) of every relation it loads.
    """

    paths: tuple[str, ...]
    unseen: tuple[str, ...]
    model: type[Model]
    reads: frozenset[tuple[type[Model], str]]

    def __new__(
        cls,
        lookups: list[str | Prefetch[Any]],
        *,
        paths: list[str],
        unseen: list[str],
        model: type[Model],
        reads: set[tuple[type[Model], str]],
    ) -> Plan:
        self = super().__new__(cls, lookups)
        self.paths = tuple(paths)
        self.unseen = tuple(unseen)
        self.model = model
        self.reads = frozenset(reads)
        return self

    def __repr__(self) -> str:
        return f"<Plan for {self.model.__name__}: {', '.join(self.paths) or 'nothing to load'}>"


def plan(obj: Any, *lookups: str | Prefetch[Any], model: type[Model] | None = None) -> Plan:
    """The prefetch lookups that load what ``obj`` will read, for ``prefetch_related``,
    ``prefetch()`` and ``aprefetch()``.

    ``obj``: a DRF serializer class or instance (``many=True`` and ``ListSerializer``
    too), a django-ninja ``Schema``/``ModelSchema`` class or a pydantic model class
    read with ``from_attributes`` (or ``list[...]`` of one).  ``model=`` names the
    model for a serializer or schema that does not declare one (``ModelSerializer``
    and ``ModelSchema`` do).

    Reads the plan cannot see (``SerializerMethodField``, ninja resolvers, methods
    and properties, custom fields with ``source="*"``) are listed in ``.unseen``;
    add what they read as ``lookups`` here, or in the serializer's or schema's
    ``Meta.plan_lookups`` (paths from its own model; a nested one's are prefixed).
    A ``Prefetch`` in ``lookups`` replaces the planned lookup of the same path (the
    relations below it still load).  Unknown relation names raise
    ``UnknownRelation``; nothing runs a query.
    """
    reader, target = _reader(obj)
    declared = reader.model_of(target)
    if model is None:
        model = declared
    elif not (isinstance(model, type) and issubclass(model, Model)):
        raise TypeError(f"model= must be a model class, got {model!r}.")
    elif declared is not None and not issubclass(model, declared):
        raise ValueError(
            f"model={model.__name__} does not match {_name(target)}'s model {declared.__name__}."
        )
    if model is None:
        raise TypeError(f"{_name(target)} declares no model: pass plan({_name(target)}, model=TheModel).")
    root = Node(model)
    walk = Walk()
    reader.read(target, root, walk)
    strings = [lookup for lookup in lookups if not isinstance(lookup, Prefetch)]
    walk.hints(root, tuple(strings), "plan()")
    reads = root.pairs()  # before a user's Prefetch takes its relation's place
    extra = [p for lookup in lookups if isinstance(lookup, Prefetch) for p in _replace(root, lookup)]
    paths = [*root.paths(), *(p if isinstance(p, str) else p.prefetch_to for p in extra)]
    return Plan([*root.paths(), *extra], paths=paths, unseen=walk.unseen, model=model, reads=reads)


def _reader(obj: Any) -> tuple[Any, Any]:
    if drf.is_serializer(obj):
        return drf, obj
    inner = schemas.unwrap(obj)  # BookOut, list[BookOut], BookOut | None
    if inner is not None:
        return schemas, inner
    raise TypeError(
        "plan() takes a Django REST framework serializer (class or instance), a django-ninja "
        f"Schema/ModelSchema or a pydantic model class, got {obj!r}."
    )


def _replace(root: Node, lookup: Prefetch[Any]) -> list[str | Prefetch[Any]]:
    """A user's Prefetch in place of the planned lookup of its path; the planned
    relations below it follow as paths."""
    assert root.model is not None
    resolve.check_path(root.model, lookup.prefetch_through)  # UnknownRelation before anything
    if lookup.to_attr:  # the serializer still reads the original name: keep its lookup too
        return [lookup]
    *parents, last = resolve.split_path(lookup.prefetch_through)
    parent: Node | None = root
    for hop in parents:
        parent = parent.children.get(hop) if parent is not None else None
    node = parent.children.pop(last, None) if parent is not None else None
    below = node.paths(f"{lookup.prefetch_through}__") if node is not None else []
    return [lookup, *below]


def _name(obj: Any) -> str:
    return getattr(obj, "__name__", None) or type(obj).__name__
