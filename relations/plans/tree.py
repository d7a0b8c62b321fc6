"""A plan as a tree of relations, and the lookups that load it.

A reader (``drf``, ``schemas``) walks a serializer or schema and adds the relation
paths it reads to a ``Node``; the tree's paths, parents first, are the lookups for
``prefetch_related``, ``prefetch()`` and ``aprefetch()``.  Relation names are resolved with the library's
own introspection (``loaders.resolve``), so a plan names exactly the relations that
plain attribute access reaches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Model

from ..kinds import RelationInfo
from ..loaders import resolve


@dataclass
class Node:
    """The relations read on objects of ``model`` (None after a generic foreign key)."""

    model: type[Model] | None
    info: RelationInfo | None = None  # the relation that leads here; None at the root
    children: dict[str, Node] = field(default_factory=dict)

    def child(self, name: str, *, strict: bool, path: str = "") -> Node | None:
        """The node for the relation ``name`` read on this node's objects, added if new.

        ``strict`` (a lookup the user wrote) raises UnknownRelation for a name that is
        no relation; otherwise (an attribute a serializer reads) that is a plain field
        and gives None.  After a generic foreign key names cannot be checked.
        """
        found = self.children.get(name)
        if found is not None:
            return found
        if self.model is None:
            found = Node(None)
        else:
            info = (
                resolve.relation(self.model, name, path)
                if strict
                else resolve.relations_of(self.model).get(name)
            )
            if info is None:
                return None
            found = Node(info.target, info)
        self.children[name] = found
        return found

    def add(self, hops: list[str], *, strict: bool = False) -> Node | None:
        """Add the relations along ``hops`` up to the first one that is no relation.

        Returns the node reached after the last hop when every hop is a relation,
        else None (the rest of the path reads fields, which cost nothing).
        """
        node: Node | None = self
        path = "__".join(hops)
        for hop in hops:
            assert node is not None
            node = node.child(hop, strict=strict, path=path)
            if node is None:
                return None
        return node

    def paths(self, prefix: str = "") -> list[str]:
        """Every relation path of the tree, parents first: one query per path."""
        out = []
        for name, node in self.children.items():
            path = f"{prefix}{name}"
            out.append(path)
            out.extend(node.paths(f"{path}__"))
        return out

    def pairs(self) -> set[tuple[type[Model], str]]:
        """(model, relation name) for every relation the tree reads on a known model."""
        out: set[tuple[type[Model], str]] = set()
        for name, node in self.children.items():
            if self.model is not None:
                out.add((self.model, name))
            out |= node.pairs()
        return out


@dataclass
class Walk:
    """One ``plan()`` walk: what it could not see, and the readers it is inside."""

    unseen: list[str] = field(default_factory=list)
    active: set[tuple[Any, type[Model] | None]] = field(default_factory=set)

    def hints(self, node: Node, lookups: tuple[Any, ...], where: str) -> None:
        """Add a reader's own extra lookups (``Meta.plan_lookups``), checked strictly."""
        for lookup in lookups:
            if not isinstance(lookup, str):
                raise TypeError(f"{where}.Meta.plan_lookups must hold relation paths (str), got {lookup!r}.")
            node.add(resolve.split_path(lookup), strict=True)

    def enter(self, reader: Any, node: Node, where: str) -> bool:
        """Start reading ``reader`` on ``node``; False if already inside it there.

        A schema that nests itself (``mentor: AuthorOut | None``) reads as deep as
        the data goes, which no fixed plan can load: the plan stops at the cycle and
        lists it as unseen.
        """
        key = (reader, node.model)
        if key in self.active:
            self.unseen.append(f"{where} (nests itself: its depth depends on the data)")
            return False
        self.active.add(key)
        return True

    def leave(self, reader: Any, node: Node) -> None:
        self.active.discard((reader, node.model))
