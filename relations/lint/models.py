"""What the lint knows about the project's models, read from Django's app registry.

For each model: its relations (name, kind, target), its managers, whether a
manager or a custom queryset method may load relations on its own (its source
mentions ``select_related``, ``prefetch_related``, ``Prefetch`` or
``fetch_mode``: then the lint stays silent about querysets that come from it),
and where user-defined methods and properties live, so that a method called in a
loop can be looked into.
"""

from __future__ import annotations

import ast
import inspect
import os
import re
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

import django
from django.apps import apps
from django.db.models import Manager, Model

from ..kinds import Kind, kind_of, relation_info

_LOADS = re.compile(r"\b(select_related|prefetch_related|Prefetch|fetch_mode|prefetch_related_objects)\b")
_DJANGO_DIR = os.path.dirname(django.__file__) + os.sep
_LIBRARY_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


@dataclass(frozen=True)
class Rel:
    """One relation of one model, as the lint needs it."""

    model: type[Model]
    name: str
    kind: Kind
    target: type[Model] | None  # None for a generic foreign key

    @property
    def many(self) -> bool:
        return self.kind.many

    @property
    def joinable(self) -> bool:
        """Can select_related() follow it?"""
        return self.kind.fix_method == "select_related"


@dataclass(frozen=True)
class Method:
    """A user-defined method or property of a model, with its syntax tree."""

    name: str
    node: ast.FunctionDef | ast.AsyncFunctionDef
    path: str
    is_property: bool


def _user_code(obj: Any) -> bool:
    try:
        path = inspect.getsourcefile(obj)
    except TypeError:
        return False
    if path is None:
        return False
    path = os.path.abspath(path)
    return not path.startswith(_DJANGO_DIR) and not path.startswith(_LIBRARY_DIR)


@cache
def _source_loads(obj: Any) -> bool:
    """Does the source of ``obj`` (user code) mention a way of loading relations?"""
    try:
        source = inspect.getsource(obj)
    except (OSError, TypeError):
        return True  # unknown: assume it may (silence)
    return bool(_LOADS.search(source))


class ModelIndex:
    """Relations, managers and methods of every installed model."""

    def __init__(self, models: Iterable[type[Model]] | None = None) -> None:
        self.models = list(apps.get_models() if models is None else models)
        self._by_name: dict[str, list[type[Model]]] = {}
        for model in self.models:
            self._by_name.setdefault(model.__name__, []).append(model)
        self._rels: dict[type[Model], dict[str, Rel]] = {}
        self._methods: dict[tuple[type[Model], str], Method | None] = {}
        self._files: dict[str, dict[str, type[Model]]] | None = None

    # -- models ---------------------------------------------------------------

    def by_name(
        self, name: str, module: str | None = None, path: str | None = None, *, strict: bool = False
    ) -> type[Model] | None:
        """The model called ``name``; ``module``/``path`` disambiguate.

        ``strict``: the model must be defined in ``module`` (or a module ending with it).
        """
        candidates = self._by_name.get(name, [])
        if (len(candidates) > 1 or strict) and module:
            tail = module.lstrip(".")
            narrowed = [
                m
                for m in candidates
                if m.__module__ == tail
                or m.__module__.endswith("." + tail)
                or m.__module__.startswith(tail + ".")  # re-exported by its package
            ]
            if narrowed or strict:
                candidates = narrowed
        if len(candidates) > 1 and path:
            narrowed = [m for m in candidates if _defined_in(m, path)]
            if narrowed:
                candidates = narrowed
        return candidates[0] if len(candidates) == 1 else None

    def defined_in(self, path: str) -> dict[str, type[Model]]:
        """Models whose class statement is in the file ``path``."""
        if self._files is None:
            self._files = {}
            for model in self.models:
                source = _source_file(model)
                if source is not None:
                    self._files.setdefault(source, {})[model.__name__] = model
        return self._files.get(os.path.abspath(path), {})

    # -- relations ------------------------------------------------------------

    def relations(self, model: type[Model]) -> dict[str, Rel]:
        rels = self._rels.get(model)
        if rels is None:
            rels = {}
            for cls in model.__mro__:
                if cls is Model or not (isinstance(cls, type) and issubclass(cls, Model)):
                    continue
                for name, attr in vars(cls).items():
                    if name in rels or kind_of(attr) is None:
                        continue
                    info = relation_info(model, name, attr)
                    if info is not None:
                        rels[name] = Rel(model=model, name=name, kind=info.kind, target=info.target)
            self._rels[model] = rels
        return rels

    def relation(self, model: type[Model], name: str) -> Rel | None:
        return self.relations(model).get(name)

    # -- managers and querysets -----------------------------------------------

    def manager(self, model: type[Model], name: str) -> Manager[Any] | None:
        """The manager called ``name`` on ``model`` (objects, _default_manager, a custom one)."""
        if name == "_default_manager":
            return model._default_manager
        if name == "_base_manager":
            return model._base_manager
        for manager in model._meta.managers:
            if manager.name == name:
                return manager
        return None

    def manager_loads(self, manager: Manager[Any]) -> bool:
        """Does this manager's get_queryset() (user code) load relations itself?"""
        for cls in type(manager).__mro__:
            method = vars(cls).get("get_queryset")
            if method is not None:
                return _user_code(method) and _source_loads(method)
        return False

    def default_manager_loads(self, model: type[Model]) -> bool:
        return self.manager_loads(model._default_manager)

    def queryset_method(self, manager: Manager[Any] | None, model: type[Model], name: str) -> str:
        """'keep' (a filter-like custom method), 'opaque' (it may load, or unknown)."""
        classes: list[Any] = []
        for each in (manager, model._default_manager):
            if each is not None:
                qs_class = getattr(each, "_queryset_class", None)
                if qs_class is not None:
                    classes.append(qs_class)
                classes.append(type(each))
        for cls in classes:
            method = inspect.getattr_static(cls, name, None)
            if method is None:
                continue
            func = getattr(method, "__func__", method)
            if not callable(func) or not _user_code(func):
                continue
            return "opaque" if _source_loads(func) else "keep"
        return "opaque"

    # -- methods and properties -----------------------------------------------

    def method(self, model: type[Model], name: str) -> Method | None:
        """The user-defined method or property ``name`` of ``model`` (None otherwise)."""
        key = (model, name)
        if key in self._methods:
            return self._methods[key]
        found: Method | None = None
        for cls in model.__mro__:
            if name not in vars(cls):
                continue
            attr = vars(cls)[name]
            is_property = isinstance(attr, property)
            func = attr.fget if is_property else getattr(attr, "__func__", attr)
            if inspect.isfunction(func) and _user_code(func):
                node = _function_node(func)
                path = inspect.getsourcefile(func)
                if node is not None and path is not None:
                    found = Method(name=name, node=node, path=os.path.abspath(path), is_property=is_property)
            break
        self._methods[key] = found
        return found


def _source_file(model: type[Model]) -> str | None:
    try:
        source = inspect.getsourcefile(model)
    except TypeError:
        return None
    return os.path.abspath(source) if source is not None else None


def _defined_in(model: type[Model], path: str) -> bool:
    return _source_file(model) == os.path.abspath(path)


def _function_node(func: Any) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    try:
        lines, start = inspect.getsourcelines(func)
    except (OSError, TypeError):
        return None
    try:
        tree = ast.parse(textwrap.dedent("".join(lines)))
    except SyntaxError:
        return None
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            ast.increment_lineno(node, start - 1)
            return node
    return None
