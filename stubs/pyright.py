"""Typed ``R()`` overloads for pyright / Pylance users, who have no plugin API.

``python manage.py relations_stubs`` writes one Python module from the app
registry (see ``docs/pyright.md``).  It holds, only under ``TYPE_CHECKING``:

* ``R``: overloads of the functional ``R(instance, path)``, one per model and
  result type, with the valid paths as ``Literal`` strings; at run time the module
  re-exports ``relations.R`` itself;
* ``TypedR``: an opt-in mixin that types ``book.R("author")`` once a model (or
  the project's abstract base model) lists it before ``models.Model``.  Its ``R``
  is a descriptor whose ``__get__`` overloads pick the instance's model and return
  a per-model class whose ``__call__`` overloads are that model's paths.  At run
  time ``TypedR`` is an empty class and ``Model.R`` answers.

pyright weighs overloads one by one at each call (about 0.1 ms each, measured), so
the functional ``R``, whose overloads cover every model, costs more per call in a
large project than ``obj.R``, which weighs one overload per model and then only
that model's paths.

Paths are every relation name and every ``__`` path up to ``depth`` hops (two by
default; the count grows as relations**depth).  A path past a generic foreign key
is left out: its type depends on the data.  Anything not listed falls back to
``RelationLoad[Any]``; with ``strict=True`` a literal string that is not listed
first meets an overload marked ``@deprecated``, so pyright's reportDeprecated
flags typos (and, by the same token, valid paths deeper than ``depth``).

Everything here is a pure function of the registry: the output is sorted and has
no timestamp, so ``--check`` can compare it byte for byte.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass

from django.apps.registry import Apps
from django.db.models import Model

from relations.kinds import Kind
from relations.loaders.resolve import relations_of

COMMAND = "relations_stubs"
DEFAULT_DEPTH = 2

_NULLABLE_KINDS = frozenset({Kind.REVERSE_ONE_TO_ONE, Kind.GENERIC_FOREIGN_KEY})


@dataclass(frozen=True)
class PathType:
    """What ``R(instance, path)`` gives: one ``target`` (None: any model), maybe None, or a list."""

    target: type[Model] | None
    nullable: bool
    many: bool


def hop_type(model: type[Model], name: str) -> PathType:
    """The type of one hop ``model.<name>`` as ``R()`` returns it."""
    info = relations_of(model)[name]
    if info.many:
        return PathType(info.target, nullable=False, many=True)
    nullable = info.kind in _NULLABLE_KINDS or bool(
        getattr(info.descriptor, "field", None) and info.descriptor.field.null
    )
    return PathType(info.target, nullable=nullable, many=False)


def relation_paths(model: type[Model], depth: int = DEFAULT_DEPTH) -> dict[str, PathType]:
    """Every relation path of ``model`` up to ``depth`` hops, with its ``R()`` type.

    A to-many hop anywhere makes a list of the end model (``R()`` flattens and
    drops missing objects); otherwise one nullable hop makes the end nullable.
    """
    found: dict[str, PathType] = {}
    frontier: list[tuple[str, PathType]] = [("", PathType(model, nullable=False, many=False))]
    for _ in range(depth):
        next_frontier: list[tuple[str, PathType]] = []
        for prefix, so_far in frontier:
            if so_far.target is None:  # past a generic foreign key: data-dependent
                continue
            for name in relations_of(so_far.target):
                hop = hop_type(so_far.target, name)
                many = so_far.many or hop.many
                path_type = PathType(
                    hop.target, nullable=not many and (so_far.nullable or hop.nullable), many=many
                )
                path = f"{prefix}__{name}" if prefix else name
                found[path] = path_type
                next_frontier.append((path, path_type))
        frontier = next_frontier
    return dict(sorted(found.items()))


def _importable(model: type[Model]) -> bool:
    module = sys.modules.get(model.__module__)
    return module is not None and getattr(module, model.__qualname__, None) is model


def models_for(registry: Apps, app_labels: Sequence[str] = ()) -> list[type[Model]]:
    """The models to type: those of ``app_labels`` (all apps if empty) that can be imported.

    Subclasses come before their bases, so the first matching overload of an
    instance is its own model's; ties sort by app label and name.
    """
    configs = (
        [registry.get_app_config(label) for label in app_labels] if app_labels else registry.get_app_configs()
    )
    models = [m for config in configs for m in config.get_models() if _importable(m)]
    return sorted(models, key=lambda m: (-len(m.__mro__), m._meta.label))


class _Names:
    """Type expressions for models, through one import alias per module."""

    def __init__(self) -> None:
        self.modules: set[str] = set()

    @staticmethod
    def alias(module: str) -> str:
        return "_" + module.replace(".", "_")

    def model(self, model: type[Model] | None) -> str:
        if model is None or not _importable(model):
            return "Model"
        self.modules.add(model.__module__)
        return f"{self.alias(model.__module__)}.{model.__qualname__}"

    def result(self, path_type: PathType) -> str:
        name = self.model(path_type.target)
        if path_type.many:
            return f"list[{name}]"
        return f"{name} | None" if path_type.nullable else name


_PARAMS = "*, queryset: QuerySet[Any] | None = ..., refresh: bool = ..."


def _literal(paths: Sequence[str], indent: str) -> str:
    """``Literal["a", "b"]``, or one path a line when that would be long."""
    one_line = "Literal[" + ", ".join(f'"{p}"' for p in paths) + "]"
    if len(one_line) + len(indent) < 80:
        return one_line
    inner = "".join(f'{indent}    "{p}",\n' for p in paths)
    return f"Literal[\n{inner}{indent}]"


def _group(
    paths: dict[str, PathType], names: _Names, skip: set[tuple[str, PathType]]
) -> list[tuple[str, list[str]]]:
    """Paths grouped by result type, sorted: one overload each."""
    by_type: dict[str, list[str]] = {}
    for path, path_type in paths.items():
        if (path, path_type) not in skip:
            by_type.setdefault(names.result(path_type), []).append(path)
    return sorted(by_type.items())


def _overload(indent: str, name: str, first: str, path: str, result: str, label: str = "") -> str:
    comment = f"  # {label}" if label else ""
    return (
        f"{indent}@overload\n"
        f"{indent}def {name}({comment}\n"
        f"{indent}    {first},\n"
        f"{indent}    path: {path},\n"
        f"{indent}    {_PARAMS},\n"
        f"{indent}) -> RelationLoad[{result}]: ...\n"
    )


def _functional(
    models: Sequence[type[Model]], paths: dict[type[Model], dict[str, PathType]], names: _Names
) -> list[str]:
    """Overloads of the functional ``R(instance, path)``, one per model and result type."""
    out = []
    for model in models:
        # What a base model's overloads already give its subclasses is not repeated.
        inherited = {item for base in model.__mro__[1:] if base in paths for item in paths[base].items()}
        for result, group in _group(paths[model], names, inherited):
            first = f"instance: {names.model(model)}"
            out.append(_overload("    ", "R", first, _literal(group, "        "), result, model._meta.label))
    return out


def _table(model: type[Model], paths: dict[str, PathType], names: _Names, strict: bool) -> str:
    """A class whose ``__call__`` overloads are ``model``'s paths: what ``obj.R`` is."""
    lines = [f"    class {_table_name(model)}:  # {model._meta.label}\n"]
    for result, group in _group(paths, names, set()):
        lines.append(_overload("        ", "__call__", "self", _literal(group, "            "), result))
    lines.extend(_fallbacks("        ", "__call__", "self", strict))
    return "".join(lines)


def _table_name(model: type[Model]) -> str:
    return f"_R_{model._meta.label.replace('.', '_')}"


def _fallbacks(indent: str, name: str, first: str, strict: bool, alone: bool = False) -> list[str]:
    """The closing overloads for paths not listed, and the implementation signature.

    ``alone``: no overload precedes them, so without ``strict`` only the plain signature.
    """
    out = []
    if strict:
        out.append(
            f"{indent}@overload\n"
            f'{indent}@deprecated("not a relation path of this model (or deeper than the generated depth)")\n'
            f"{indent}def {name}({first}, path: LiteralString, {_PARAMS}) -> RelationLoad[Any]: ...\n"
        )
    if strict or not alone:
        out.append(
            f"{indent}@overload\n"
            f"{indent}def {name}({first}, path: str, {_PARAMS}) -> RelationLoad[Any]: ...\n"
        )
    out.append(
        f"{indent}def {name}({first}, path: str, *, queryset: QuerySet[Any] | None = None,"
        f" refresh: bool = False) -> RelationLoad[Any]: ...\n"
    )
    return out


class TypedR:
    """The run-time face of the generated ``TypedR`` mixin: an empty class.

    The generated module re-exports it at run time, so a model listing it, and
    any migration that records it among the model's bases, refers to this stable
    import path rather than to the generated file.
    """

    __slots__ = ()


def command_line(app_labels: Sequence[str], depth: int, strict: bool) -> str:
    """The command that regenerates a file, as its header shows it."""
    parts = ["python manage.py", COMMAND]
    if depth != DEFAULT_DEPTH:
        parts.append(f"--depth {depth}")
    if strict:
        parts.append("--strict")
    parts.extend(app_labels)
    return " ".join(parts)


def render(
    models: Sequence[type[Model]],
    depth: int = DEFAULT_DEPTH,
    strict: bool = False,
    command: str | None = None,
) -> str:
    """The module source with typed ``R`` overloads for ``models``."""
    if depth < 1:
        raise ValueError("depth must be at least 1")
    names = _Names()
    paths = {model: relation_paths(model, depth) for model in models}
    functional = _functional(models, paths, names)
    typed = [model for model in models if paths[model]]
    tables = [_table(model, paths[model], names, strict) for model in typed]
    # obj.R is a descriptor whose __get__ picks the model's table: one overload per
    # model, then a short list of paths, where self-typed overloads of one method
    # would make pyright weigh every path of every model at each call.
    getters = [
        f"        @overload\n"
        f"        def __get__(self, instance: {names.model(model)}, owner: Any)"
        f" -> {_table_name(model)}: ...\n"
        for model in typed
    ]
    imports = "".join(f"    import {m} as {names.alias(m)}\n" for m in sorted(names.modules))
    typing_names = "TYPE_CHECKING, Any, Literal, overload"
    if strict:
        typing_names = "TYPE_CHECKING, Any, Literal, LiteralString, overload"
    header = (
        f"# Generated by `{command or command_line((), depth, strict)}` (django-strict-relations).\n"
        "# Do not edit: regenerate after changing models; `--check` in CI catches a stale file.\n"
        "# pyright: basic\n"
        "# pyright: reportMissingModuleSource=false\n"
        "# mypy: ignore-errors\n"
        "# ruff: noqa\n"
        '"""Typed R() for pyright / Pylance: import R and TypedR from here (see docs/pyright.md)."""\n'
    )
    parts = [
        header,
        "\nfrom __future__ import annotations\n\n",
        f"from typing import {typing_names}\n\n",
        "if TYPE_CHECKING:\n",
        "    from django.db.models import Model, QuerySet\n",
        "    from typing_extensions import deprecated\n" if strict else "",
        "\n    from relations.api import RelationLoad\n\n",
        imports,
        "\n",
        *functional,
        *_fallbacks("    ", "R", "instance: Model", strict, alone=not functional),
        "\n",
        *tables,
        "    class _R_any:\n",
        *_fallbacks("        ", "__call__", "self", strict, alone=True),
        "\n    class _RDescriptor:\n",
        *getters,
        "        @overload\n",
        "        def __get__(self, instance: Model, owner: Any) -> _R_any: ...\n",
        "        @overload\n",
        "        def __get__(self, instance: None, owner: Any) -> Any: ...\n",
        "        def __get__(self, instance: Model | None, owner: Any) -> Any: ...\n",
        "\n    class TypedR:\n",
        '        """Mixin typing ``obj.R(path)``: list it before ``models.Model`` in a (base) model."""\n\n',
        "        R = _RDescriptor()\n",
        "else:\n",
        "    from relations import R\n",
        "    from relations.stubs.pyright import TypedR\n",
    ]
    return "".join(parts)


def generate(
    registry: Apps, app_labels: Sequence[str] = (), depth: int = DEFAULT_DEPTH, strict: bool = False
) -> str:
    """The generated module for ``app_labels`` (every app if empty) of ``registry``."""
    return render(models_for(registry, app_labels), depth, strict, command_line(app_labels, depth, strict))
