"""The lint's analysis: follow querysets and the instances they produce through a function.

An abstract interpreter over Python's syntax tree.  It runs each function once,
statement by statement, tracking what each local variable holds when that is
known: a queryset of a model and what it loads (``select_related`` /
``prefetch_related`` / ``Prefetch``, through chains and reassignments), a list of
instances, an instance (and whether it is one item of a loop over a result), a
related manager, a ``Prefetch``.  Anything else is unknown, and reading a
relation on something unknown is never reported: the lint prefers silence over
false alarms.

A relation read on an instance whose query did not load it is reported when it
would run (or, in async code, raise) once per item:

* ``REL001``: inside a loop or comprehension over the result (N+1);
* ``REL002``: anywhere in an ``async def`` body (nothing loads implicitly there);
* ``REL003``: in a helper function, method or property called from such a place
  (the report is at the call; the message names the helper and its line).

A branch that loads a relation counts as loading it (conditional prefetching
stays silent); an earlier ``R()``, ``prefetch()``/``aprefetch()``,
``prefetch_related_objects()`` or assignment in the same function loads it too.
As at run time, a plain ``R()`` on one instance of a queryset evaluation loads every
hop of its path on the evaluation's other instances (its peers) as well, unless
``RELATIONS["PEERS"]`` is off.
"""

from __future__ import annotations

import ast
import builtins
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from django.db.models import Model

from ..kinds import Kind
from .models import ModelIndex, Rel

# --------------------------------------------------------------------------
# What a query loaded


@dataclass(frozen=True)
class Load:
    """What a query loaded below one model; immutable."""

    rels: tuple[tuple[str, Load], ...] = ()
    attrs: tuple[tuple[str, tuple[type[Model], Load]], ...] = ()  # Prefetch(to_attr=...)
    opaque: bool = False  # unknown: everything counts as loaded
    all_to_one: bool = False  # select_related() without arguments

    def has(self, rel: Rel) -> bool:
        if self.opaque or any(name == rel.name for name, _ in self.rels):
            return True
        return self.all_to_one and rel.joinable and not rel.many

    def child(self, name: str) -> Load:
        if self.opaque:
            return OPAQUE
        for key, load in self.rels:
            if key == name:
                return load
        if self.all_to_one:
            return Load(all_to_one=True)
        return EMPTY

    def attr(self, name: str) -> tuple[type[Model], Load] | None:
        for key, value in self.attrs:
            if key == name:
                return value
        return None

    def with_child(self, name: str, load: Load) -> Load:
        rels = dict(self.rels)
        rels[name] = rels[name].union(load) if name in rels else load
        return replace(self, rels=tuple(rels.items()))

    def with_attr(self, name: str, model: type[Model], load: Load) -> Load:
        attrs = dict(self.attrs)
        attrs[name] = (model, load)
        return replace(self, attrs=tuple(attrs.items()))

    def union(self, other: Load) -> Load:
        if self == other:
            return self
        rels = dict(self.rels)
        for name, load in other.rels:
            rels[name] = rels[name].union(load) if name in rels else load
        attrs = dict(self.attrs)
        for name, value in other.attrs:
            attrs.setdefault(name, value)
        return Load(
            rels=tuple(rels.items()),
            attrs=tuple(attrs.items()),
            opaque=self.opaque or other.opaque,
            all_to_one=self.all_to_one or other.all_to_one,
        )


EMPTY = Load()
OPAQUE = Load(opaque=True)

# --------------------------------------------------------------------------
# Abstract values

# Peers: the instances that one queryset evaluation produced together (relations.peers).
# A group is the id of that evaluation, then the relation path from its model to the
# instances (``(7, "author")``: the authors that the books of evaluation 7 loaded in one
# go, which are peers too).  ``R()`` on a member loads the relation on the whole group.
Group = tuple[Any, ...]
_evaluations = itertools.count(1)


def _new_group() -> Group:
    return (next(_evaluations),)


@dataclass(frozen=True)
class QS:
    """A queryset of ``model`` instances."""

    model: type[Model]
    load: Load
    arg: bool = False  # derived from an argument of an inlined call
    manager: Any = None  # the model manager it came from (for custom methods)
    group: Group | None = None  # once evaluated: the peers in its result cache
    order: bool | None = None  # order_by() with fields (True) or cleared (False); None: Meta.ordering

    @property
    def ordered(self) -> bool:
        return self.order if self.order is not None else bool(self.model._meta.ordering)


@dataclass(frozen=True)
class Items:
    """A list (or other iterable) of ``model`` instances."""

    model: type[Model]
    load: Load
    arg: bool = False
    path: tuple[str, ...] = ()
    via_many: bool = False
    group: Group | None = None  # the peers its items belong to


@dataclass(frozen=True)
class Inst:
    """One instance of ``model`` that a query produced."""

    model: type[Model]
    load: Load
    loop: int | None = None  # the loop it is an item of (None: fetched once)
    arg: bool = False
    path: tuple[str, ...] = ()  # relations from the query's model to this instance
    via_many: bool = False  # the path goes through a to-many relation
    source: str | None = None  # the variable holding the list it is an item of
    group: Group | None = None  # its peers (None: fetched alone, or not known)


@dataclass(frozen=True)
class Related:
    """``owner.rel`` (a related manager) or, with ``all``, ``owner.rel.all()``."""

    owner: Inst
    rel: Rel
    all: bool = False


@dataclass(frozen=True)
class ModelRef:
    model: type[Model]


@dataclass(frozen=True)
class PrefetchV:
    lookup: str
    inner: Load  # what its queryset loads (EMPTY without one, OPAQUE if unknown)
    to_attr: str | None


@dataclass(frozen=True)
class Str:
    value: str


@dataclass(frozen=True)
class TupleV:
    items: tuple[Value, ...]


@dataclass(frozen=True)
class Enumerated:
    inner: Value


@dataclass(frozen=True)
class Zipped:
    parts: tuple[Value, ...]


@dataclass(frozen=True)
class ByKey:
    """``qs.in_bulk()``: a dict of instances (``pairs``: its ``.items()``)."""

    items: Items
    pairs: bool = False


@dataclass(frozen=True)
class RLoad:
    """``obj.R("a__b")`` before it is awaited (or ``.sync()``)."""

    owner: Inst | Items
    hops: tuple[str, ...]
    group: Group | None = None  # the peers of what it loads (loaded together with the owner's peers)


@dataclass(frozen=True)
class FuncRef:
    node: ast.FunctionDef | ast.AsyncFunctionDef
    module: ModuleInfo
    owner_class: ast.ClassDef | None = None


@dataclass(frozen=True)
class SelfRef:
    """``self`` inside a method of a class of the linted module."""

    cls: ast.ClassDef


@dataclass(frozen=True)
class SyncToAsync:
    func: Value
    name: str | None  # the wrapped callable's name, when it is a plain name


Value = (
    QS
    | Items
    | Inst
    | Related
    | ModelRef
    | PrefetchV
    | Str
    | TupleV
    | Enumerated
    | Zipped
    | ByKey
    | RLoad
    | FuncRef
    | SelfRef
    | SyncToAsync
    | None
)

# QuerySet methods that return a queryset with the same loads.
_KEEP = frozenset(
    [
        "all",
        "filter",
        "exclude",
        "order_by",
        "distinct",
        "reverse",
        "annotate",
        "alias",
        "only",
        "defer",
        "using",
        "select_for_update",
        "extra",
        "complex_filter",
        "iterator",
        "aiterator",
        "union",
        "intersection",
        "difference",
        "none",
    ]
)
_ONE = frozenset(
    ["get", "first", "last", "earliest", "latest", "aget", "afirst", "alast", "aearliest", "alatest"]
)
_OTHER = frozenset(
    [
        "values",
        "values_list",
        "dates",
        "datetimes",
        "count",
        "acount",
        "exists",
        "aexists",
        "aggregate",
        "aaggregate",
        "update",
        "aupdate",
        "delete",
        "adelete",
        "create",
        "acreate",
        "bulk_create",
        "abulk_create",
        "bulk_update",
        "abulk_update",
        "get_or_create",
        "aget_or_create",
        "update_or_create",
        "aupdate_or_create",
        "explain",
        "aexplain",
        "contains",
        "acontains",
        "raw",
        "as_manager",
    ]
)
_EVALUATING = frozenset(
    [
        "list",
        "tuple",
        "set",
        "frozenset",
        "sorted",
        "len",
        "bool",
        "any",
        "all",
        "sum",
        "min",
        "max",
        "reversed",
        "dict",
    ]
)
_PREFETCHERS = frozenset(["prefetch", "aprefetch", "prefetch_related_objects", "aprefetch_related_objects"])
_ONE_OR_404 = frozenset({"get_object_or_404", "aget_object_or_404"})
_BUILTINS = frozenset(dir(builtins))
_CALLER_LOOP = -1
_MAX_DEPTH = 4

# --------------------------------------------------------------------------
# Findings


@dataclass(frozen=True)
class Finding:
    """One report: ``path:line:col CODE message``."""

    path: str
    line: int
    col: int
    code: str
    message: str
    relation: str = ""  # "app_label.Model.relation"
    raises: bool = False  # in async code: the read raises, whatever the settings
    via: tuple[str, int] | None = None  # REL003: where the helper reads it (path, line)

    def format(self) -> str:
        return f"{self.path}:{self.line}:{self.col} {self.code} {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "line": self.line,
            "col": self.col,
            "code": self.code,
            "message": self.message,
            "relation": self.relation,
        }


@dataclass(frozen=True)
class _Raw:
    """A read found while looking into a called helper, reported at the call."""

    code: str  # REL001 or REL002
    relation: str
    label: str
    fix: str
    line: int
    path: str
    chain: tuple[str, ...]  # helper names, outermost first


def _fix(owner: Inst, rel: Rel) -> str:
    hops = "__".join((*owner.path, rel.name))
    method = "prefetch_related" if (owner.via_many or rel.many or not rel.joinable) else "select_related"
    return f'.{method}("{hops}")'


# --------------------------------------------------------------------------
# Modules


@dataclass
class ModuleInfo:
    """A parsed source file and its top-level names."""

    path: str
    tree: ast.Module
    lines: list[str]
    name: str = ""  # dotted module name, if known
    imports: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # alias -> (module, name)
    functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = field(default_factory=dict)
    classes: dict[str, ast.ClassDef] = field(default_factory=dict)

    @classmethod
    def parse(cls, path: str, source: str, name: str = "") -> ModuleInfo:
        tree = ast.parse(source, filename=path)
        info = cls(path=path, tree=tree, lines=source.splitlines(), name=name)
        package = name.rpartition(".")[0] if name else ""
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                module = node.module or ""
                if node.level:
                    base = package.split(".") if package else []
                    if node.level > 1:
                        base = base[: len(base) - (node.level - 1)] if len(base) >= node.level - 1 else []
                    module = ".".join([*base, module] if module else base) or "." * node.level
                for alias in node.names:
                    info.imports[alias.asname or alias.name] = (module, alias.name)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        info.imports[alias.asname] = (alias.name, None)
                    else:
                        top = alias.name.split(".")[0]
                        info.imports[top] = (top, None)
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                info.functions[node.name] = node
            elif isinstance(node, ast.ClassDef):
                info.classes[node.name] = node
        return info


# --------------------------------------------------------------------------
# The interpreter


class _Loops:
    counter = itertools.count(1)


@dataclass
class _Frame:
    """One function being interpreted."""

    module: ModuleInfo
    is_async: bool
    owner_class: ast.ClassDef | None = None
    loops: list[int] = field(default_factory=list)
    inline: bool = False  # looking into a helper for its caller
    raws: list[_Raw] = field(default_factory=list)
    returns: list[Value] = field(default_factory=list)
    chain: tuple[str, ...] = ()
    depth: int = 0
    peer_loads: list[tuple[Group, str | None]] = field(default_factory=list)  # R() on peers, for the caller


Env = dict[str, Value]


class Analyzer:
    """Interprets the functions of one module and collects findings."""

    def __init__(
        self, index: ModelIndex, module: ModuleInfo, modules: Any = None, *, peers: bool = True
    ) -> None:
        self.index = index
        self.module = module
        self.modules = modules  # .by_name(dotted) / .at(path): other ModuleInfo, cached
        self.peers = peers  # RELATIONS["PEERS"]: R() on one instance loads its peers too
        self.findings: list[Finding] = []
        self._local_models = index.defined_in(module.path)
        self._return_cache: dict[int, Value] = {}
        self._busy: set[int] = set()

    # -- entry points -----------------------------------------------------------

    def run(self) -> list[Finding]:
        frame = _Frame(module=self.module, is_async=False)
        self.block(self.module.tree.body, {}, frame)
        for node, owner_class in self._functions():
            self.function(node, owner_class)
        return self.findings

    def _functions(self) -> Iterator[tuple[ast.FunctionDef | ast.AsyncFunctionDef, ast.ClassDef | None]]:
        owners: dict[int, ast.ClassDef] = {}
        for node in ast.walk(self.module.tree):
            if isinstance(node, ast.ClassDef):
                for child in node.body:
                    if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        owners[id(child)] = node
        for node in ast.walk(self.module.tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield node, owners.get(id(node))

    def function(
        self, node: ast.FunctionDef | ast.AsyncFunctionDef, owner_class: ast.ClassDef | None
    ) -> None:
        frame = _Frame(
            module=self.module, is_async=isinstance(node, ast.AsyncFunctionDef), owner_class=owner_class
        )
        env: Env = {}
        for i, arg in enumerate(_params(node)):
            env[arg] = SelfRef(owner_class) if (i == 0 and owner_class is not None) else None
        self.block(node.body, env, frame)

    # -- statements -------------------------------------------------------------

    def block(self, body: Sequence[ast.stmt], env: Env, frame: _Frame) -> Env:
        for stmt in body:
            env = self.stmt(stmt, env, frame)
        return env

    def stmt(self, node: ast.stmt, env: Env, frame: _Frame) -> Env:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            env[node.name] = FuncRef(node, frame.module, None)
            for dec in node.decorator_list:
                self.expr(dec, env, frame)
            return env
        if isinstance(node, ast.ClassDef):
            return env
        if isinstance(node, ast.Assign):
            value = self.expr(node.value, env, frame)
            for target in node.targets:
                self.bind(target, value, env, frame)
            return env
        if isinstance(node, ast.AnnAssign):
            if node.value is not None:
                self.bind(node.target, self.expr(node.value, env, frame), env, frame)
            return env
        if isinstance(node, ast.AugAssign):
            self.expr(node.value, env, frame)
            if isinstance(node.target, ast.Name):
                env[node.target.id] = None
            else:
                self.expr(node.target, env, frame)
            return env
        if isinstance(node, ast.Expr):
            self.expr(node.value, env, frame)
            self.side_effect_call(node.value, env, frame)
            return env
        if isinstance(node, ast.Return):
            if node.value is not None:
                frame.returns.append(self.expr(node.value, env, frame))
            return env
        if isinstance(node, (ast.For, ast.AsyncFor)):
            iterable = self.evaluated(node.iter, self.expr(node.iter, env, frame), env)
            loop = next(_Loops.counter)
            element = self.element(iterable, node.iter, isinstance(node, ast.AsyncFor), loop, frame)
            body_env = dict(env)
            self.bind(node.target, element, body_env, frame)
            frame.loops.append(loop)
            try:
                body_env = self.block(node.body, body_env, frame)
            finally:
                frame.loops.pop()
            after = _join(env, body_env)
            return self.block(node.orelse, after, frame)
        if isinstance(node, ast.While):
            loop = next(_Loops.counter)
            frame.loops.append(loop)
            try:
                self.test(node.test, env, frame)
                body_env = self.block(node.body, dict(env), frame)
            finally:
                frame.loops.pop()
            after = _join(env, body_env)
            return self.block(node.orelse, after, frame)
        if isinstance(node, ast.If):
            self.test(node.test, env, frame)
            then = self.block(node.body, dict(env), frame)
            other = self.block(node.orelse, dict(env), frame)
            return _join(then, other)
        if isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                self.expr(item.context_expr, env, frame)
                if item.optional_vars is not None:
                    self.bind(item.optional_vars, None, env, frame)
            return self.block(node.body, env, frame)
        if isinstance(node, (ast.Try, ast.TryStar)):
            body = self.block(node.body, dict(env), frame)
            result = _join(env, body)
            for handler in node.handlers:
                h_env = dict(result)
                if handler.name:
                    h_env[handler.name] = None
                result = _join(result, self.block(handler.body, h_env, frame))
            result = _join(result, self.block(node.orelse, dict(body), frame))
            return self.block(node.finalbody, result, frame)
        if isinstance(node, ast.Match):
            self.expr(node.subject, env, frame)
            result = dict(env)
            for case in node.cases:
                if case.guard is not None:
                    self.expr(case.guard, env, frame)
                result = _join(result, self.block(case.body, dict(env), frame))
            return result
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                env.pop((alias.asname or alias.name).split(".")[0], None)
            return env
        if isinstance(node, ast.Delete):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    env.pop(target.id, None)
            return env
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                self.expr(child, env, frame)
        return env

    def bind(self, target: ast.expr, value: Value, env: Env, frame: _Frame) -> None:
        if isinstance(target, ast.Name):
            env[target.id] = value
        elif isinstance(target, (ast.Tuple, ast.List)):
            items = value.items if isinstance(value, TupleV) else ()
            if len(items) == len(target.elts) and not any(isinstance(e, ast.Starred) for e in target.elts):
                for elt, item in zip(target.elts, items, strict=True):
                    self.bind(elt, item, env, frame)
            else:
                for elt in target.elts:
                    self.bind(elt.value if isinstance(elt, ast.Starred) else elt, None, env, frame)
        elif isinstance(target, ast.Attribute):
            # ``book.author = someone``: loaded from now on.
            if isinstance(target.value, ast.Name):
                owner = env.get(target.value.id)
                if isinstance(owner, Inst):
                    rel = self.index.relation(owner.model, target.attr)
                    if rel is not None:
                        env[target.value.id] = replace(owner, load=owner.load.with_child(rel.name, OPAQUE))
                        return
            self.expr(target.value, env, frame)
        elif isinstance(target, ast.Subscript):
            self.expr(target.value, env, frame)
            self.expr(target.slice, env, frame)
        elif isinstance(target, ast.Starred):
            self.bind(target.value, None, env, frame)

    # -- reads ------------------------------------------------------------------

    def read(self, owner: Inst, rel: Rel, node: ast.AST, frame: _Frame) -> None:
        """``rel`` read on ``owner`` at ``node``: report it if it is not loaded."""
        if owner.load.has(rel) or rel.kind is Kind.PARENT_LINK:
            return
        if frame.inline and not owner.arg:
            return  # the helper's own analysis reports it
        if frame.is_async:
            code = "REL002"
        elif owner.loop is not None and owner.loop in frame.loops:
            code = "REL001"
        else:
            return
        relation = f"{rel.model.__name__}.{rel.name}"
        label = f"{rel.model._meta.label}.{rel.name}"
        fix = _fix(owner, rel)
        line = getattr(node, "lineno", 0)
        if frame.inline:
            frame.raws.append(_Raw(code, relation, label, fix, line, frame.module.path, frame.chain))
            return
        var = _var_name(rel.model)
        if code == "REL001":
            message = (
                f"N+1: {relation} is read once per item of the loop, and the query does not load it; "
                f"add {fix} to the query (or prefetch() the list)"
            )
        else:
            message = (
                f"{relation} is not loaded, and in async code reading it raises RelationNotLoaded; "
                f'add {fix} to the query or `await {var}.R("{rel.name}")` first'
            )
        self.emit(node, code, message, label, raises=code == "REL002")

    def emit(
        self,
        node: ast.AST,
        code: str,
        message: str,
        label: str,
        raises: bool,
        via: tuple[str, int] | None = None,
    ) -> None:
        line = getattr(node, "lineno", 0)
        col = getattr(node, "col_offset", 0) + 1
        self.findings.append(Finding(self.module.path, line, col, code, message, label, raises, via))

    def report_call(self, node: ast.AST, raws: list[_Raw], frame: _Frame) -> None:
        """Findings inside a helper, reported at the call ``node`` of this frame."""
        if not raws:
            return
        if frame.inline:  # still inside a helper: pass them up
            frame.raws.extend(raws)
            return
        seen: set[tuple[str, int, str]] = set()
        for raw in raws:
            key = (raw.relation, raw.line, raw.path)
            if key in seen:
                continue
            seen.add(key)
            helper = " -> ".join(f"{name}()" for name in raw.chain) or "the helper"
            where = f"line {raw.line}" if raw.path == self.module.path else f"{raw.path}:{raw.line}"
            if raw.code == "REL001":
                message = (
                    f"N+1: {helper} reads {raw.relation} ({where}) for each item of the loop, and the "
                    f"query does not load it; add {raw.fix} to the query (or prefetch() the list)"
                )
            else:
                message = (
                    f"{helper} reads {raw.relation} ({where}), which is not loaded, and in async code "
                    f"that raises RelationNotLoaded; add {raw.fix} to the query or R() it first"
                )
            self.emit(node, "REL003", message, raw.label, raw.code == "REL002", (raw.path, raw.line))

    # -- expressions ------------------------------------------------------------

    def test(self, node: ast.expr, env: Env, frame: _Frame) -> Value:
        value = self.evaluated(node, self.expr(node, env, frame), env)
        self.evaluate(value, node, frame)
        return value

    def evaluated(self, node: ast.expr, value: Value, env: Env) -> Value:
        """``value`` at ``node`` is iterated or measured: a queryset variable caches its result.

        The instances in the cache are peers, and ``qs[0]`` afterwards is one of them.
        """
        if isinstance(value, QS) and value.group is None and isinstance(node, ast.Name):
            value = replace(value, group=_new_group())
            env[node.id] = value
        return value

    def evaluate(self, value: Value, node: ast.AST, frame: _Frame) -> None:
        """``value`` is evaluated in sync code (iterated, measured, tested)."""
        if isinstance(value, Related) and value.all:
            self.read(value.owner, value.rel, node, frame)

    def expr(self, node: ast.expr | None, env: Env, frame: _Frame) -> Value:
        if node is None:
            return None
        if isinstance(node, ast.Name):
            return self.name(node.id, env, frame)
        if isinstance(node, ast.Attribute):
            return self.attribute(node, env, frame)
        if isinstance(node, ast.Call):
            return self.call(node, env, frame)
        if isinstance(node, ast.Await):
            value = self.expr(node.value, env, frame)
            if isinstance(value, RLoad):
                return self.resolve_r(value)
            return value
        if isinstance(node, ast.Constant):
            return Str(node.value) if isinstance(node.value, str) else None
        if isinstance(node, ast.Subscript):
            return self.subscript(node, env, frame)
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            return self.comprehension(node, env, frame)
        if isinstance(node, (ast.Tuple, ast.List)):
            return TupleV(tuple(self.expr(e, env, frame) for e in node.elts))
        if isinstance(node, ast.Lambda):
            return None  # runs later, somewhere else: not followed
        if isinstance(node, ast.NamedExpr):
            value = self.expr(node.value, env, frame)
            self.bind(node.target, value, env, frame)
            return value
        if isinstance(node, ast.IfExp):
            self.test(node.test, env, frame)
            return _join_values(self.expr(node.body, env, frame), self.expr(node.orelse, env, frame))
        if isinstance(node, ast.BoolOp):
            for value_node in node.values:
                self.test(value_node, env, frame)
            return None
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            self.test(node.operand, env, frame)
            return None
        if isinstance(node, ast.Compare):
            self.expr(node.left, env, frame)
            for op, comparator in zip(node.ops, node.comparators, strict=True):
                value = self.expr(comparator, env, frame)
                if isinstance(op, (ast.In, ast.NotIn)):
                    self.evaluate(self.evaluated(comparator, value, env), comparator, frame)
            return None
        if isinstance(node, ast.FormattedValue):
            value = self.expr(node.value, env, frame)
            if node.conversion in (-1, ord("s")) and isinstance(value, Inst):
                self.dunder(value, "__str__", node, frame)
            if node.format_spec is not None:
                self.expr(node.format_spec, env, frame)
            return None
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                self.expr(child, env, frame)
            elif isinstance(child, ast.keyword):
                self.expr(child.value, env, frame)
        return None

    def name(self, name: str, env: Env, frame: _Frame) -> Value:
        if name in env:
            return env[name]
        module = frame.module
        if name in module.functions:
            return FuncRef(module.functions[name], module)
        model = self.model_named(name, module)
        if model is not None:
            return ModelRef(model)
        if name in module.imports and self.modules is not None:
            source, imported = module.imports[name]
            if imported is not None:
                other = self.modules.by_name(source)
                if other is not None and imported in other.functions:
                    return FuncRef(other.functions[imported], other)
        return None

    def model_named(self, name: str, module: ModuleInfo) -> type[Model] | None:
        if module.path == self.module.path and name in self._local_models:
            return self._local_models[name]
        if name in module.imports:
            source, imported = module.imports[name]
            if imported is None:
                return None
            # Only a model of the module it is imported from (or of a package re-exporting it).
            return self.index.by_name(imported, source, None, strict=not source.startswith("."))
        local = self.index.defined_in(module.path) if module.path != self.module.path else {}
        return local.get(name)

    def attribute(self, node: ast.Attribute, env: Env, frame: _Frame) -> Value:
        base = self.expr(node.value, env, frame)
        attr = node.attr
        if isinstance(base, ModelRef):
            manager = self.index.manager(base.model, attr)
            if manager is None:
                return None
            load = OPAQUE if self.index.manager_loads(manager) else EMPTY
            return QS(base.model, load, manager=manager)
        if base is None and isinstance(node.value, ast.Name):
            # ``models.Book`` with ``from app import models`` or ``import app.models as models``
            module = frame.module
            if node.value.id in module.imports and node.value.id not in env:
                source, imported = module.imports[node.value.id]
                dotted = f"{source}.{imported}" if imported else source
                model = self.index.by_name(attr, dotted, None, strict=True)
                if model is not None:
                    return ModelRef(model)
            return None
        if isinstance(base, SelfRef):
            method = _class_method(base.cls, attr)
            if method is not None:
                return FuncRef(method, frame.module, base.cls)
            return None
        if isinstance(base, Inst):
            rel = self.index.relation(base.model, attr)
            if rel is not None:
                if rel.many:
                    return Related(base, rel)
                self.read(base, rel, node, frame)
                if rel.target is None:
                    return None
                return Inst(
                    rel.target,
                    base.load.child(rel.name),
                    loop=base.loop,
                    arg=base.arg,
                    path=(*base.path, rel.name),
                    via_many=base.via_many,
                    group=_sub_group(base, rel),
                )
            to_attr = base.load.attr(attr)
            if to_attr is not None:
                return Items(to_attr[0], to_attr[1], arg=base.arg)  # from the Prefetch's own query
            member = self.index.method(base.model, attr)
            if member is not None and member.is_property:
                self.inline(member.node, None, [base], {}, node, frame, path=member.path)
            return None
        return None

    def subscript(self, node: ast.Subscript, env: Env, frame: _Frame) -> Value:
        base = self.expr(node.value, env, frame)
        index = self.expr(node.slice, env, frame)
        is_slice = isinstance(node.slice, ast.Slice)
        if isinstance(base, QS) and base.group is not None:
            base = self.as_items(base)  # an evaluated queryset: its result cache
        if isinstance(base, Related) and base.all and base.owner.load.has(base.rel):
            base = self.as_items(base)  # ``author.books.all()[0]``: the prefetched list
        if isinstance(base, QS):
            if is_slice:
                return replace(base, group=None)  # a new, limited query
            # One row, fetched alone: no peers.
            return Inst(base.model, base.load, loop=self.current_loop(frame), arg=base.arg)
        if isinstance(base, Items):
            if is_slice:
                return base
            return self.item(base)
        if isinstance(base, ByKey) and not is_slice:
            return self.item(base.items)
        if isinstance(base, TupleV) and isinstance(node.slice, ast.Constant):
            i = node.slice.value
            if isinstance(i, int) and -len(base.items) <= i < len(base.items):
                return base.items[i]
        del index
        return None

    def current_loop(self, frame: _Frame) -> int | None:
        return frame.loops[-1] if frame.loops else None

    def item(self, items: Items) -> Inst:
        """One item of a list, taken outside a loop over it: a peer of the others."""
        return Inst(
            items.model,
            items.load,
            arg=items.arg,
            path=items.path,
            via_many=items.via_many,
            group=items.group,
        )

    def element(self, iterable: Value, node: ast.expr, is_async: bool, loop: int, frame: _Frame) -> Value:
        """One item of ``iterable`` in a loop ``loop``."""
        source = node.id if isinstance(node, ast.Name) else None
        if isinstance(iterable, QS):
            iterable = self.as_items(iterable)
        if isinstance(iterable, Items):
            return replace(self.item(iterable), loop=loop, source=source)
        if isinstance(iterable, Related) and iterable.all:
            if not is_async:  # ``async for`` over it is an explicit query
                self.read(iterable.owner, iterable.rel, node, frame)
            return self.related_item(iterable, loop)
        if isinstance(iterable, Enumerated):
            inner = iterable.inner
            return TupleV((None, self.element(inner, node, is_async, loop, frame)))
        if isinstance(iterable, Zipped):
            return TupleV(tuple(self.element(p, node, is_async, loop, frame) for p in iterable.parts))
        if isinstance(iterable, ByKey) and iterable.pairs:
            return TupleV((None, self.element(iterable.items, node, is_async, loop, frame)))
        return None

    def related_item(self, related: Related, loop: int | None) -> Value:
        rel, owner = related.rel, related.owner
        if rel.target is None:
            return None
        load = owner.load.child(rel.name)
        if self.index.default_manager_loads(rel.target):
            load = OPAQUE
        return Inst(
            rel.target,
            load,
            loop=loop,
            arg=owner.arg,
            path=(*owner.path, rel.name),
            via_many=True,
            group=_sub_group(owner, rel),
        )

    def comprehension(
        self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp, env: Env, frame: _Frame
    ) -> Value:
        local = dict(env)
        pushed = 0
        try:
            for i, gen in enumerate(node.generators):
                iterable = self.evaluated(gen.iter, self.expr(gen.iter, local, frame), local)
                if i == 0 and isinstance(gen.iter, ast.Name) and gen.iter.id in env:
                    env[gen.iter.id] = local[gen.iter.id]  # evaluated in the enclosing scope
                loop = next(_Loops.counter)
                element = self.element(iterable, gen.iter, bool(gen.is_async), loop, frame)
                frame.loops.append(loop)
                pushed += 1
                self.bind(gen.target, element, local, frame)
                for cond in gen.ifs:
                    self.test(cond, local, frame)
            if isinstance(node, ast.DictComp):
                self.expr(node.key, local, frame)
                self.expr(node.value, local, frame)
                return None
            value = self.expr(node.elt, local, frame)
        finally:
            for _ in range(pushed):
                frame.loops.pop()
        if isinstance(value, Inst):
            return Items(value.model, value.load, arg=value.arg, path=value.path, group=value.group)
        return None

    # -- calls ------------------------------------------------------------------

    def call(self, node: ast.Call, env: Env, frame: _Frame) -> Value:
        func = node.func
        if isinstance(func, ast.Attribute):
            return self.method_call(node, func, env, frame)
        callee = self.expr(func, env, frame)
        args = [self.expr(a.value if isinstance(a, ast.Starred) else a, env, frame) for a in node.args]
        kwargs = {k.arg: self.expr(k.value, env, frame) for k in node.keywords if k.arg is not None}
        for k in node.keywords:
            if k.arg is None:
                self.expr(k.value, env, frame)
        name = func.id if isinstance(func, ast.Name) else None
        if isinstance(callee, SyncToAsync):
            # sync_to_async(f)(...): f runs in a worker thread, where sync rules apply.
            if callee.name in ("list", "tuple") and args:
                return self.as_items(args[0])
            if isinstance(callee.func, FuncRef):
                return self.call_func(callee.func, args, kwargs, node, frame, force_sync=True, env=env)
            return None
        if isinstance(callee, FuncRef):
            return self.call_func(callee, args, kwargs, node, frame, env=env)
        if isinstance(callee, ModelRef):
            return None  # a new instance
        if name is None:
            return None
        if name in ("sync_to_async", "database_sync_to_async") and args:
            wrapped = node.args[0]
            return SyncToAsync(args[0], wrapped.id if isinstance(wrapped, ast.Name) else None)
        if name == "Prefetch":
            return self.prefetch_object(node, args, kwargs)
        if name in ("sorted", "min", "max", "map", "filter"):
            self.per_item_lambda(name, node, args, env, frame)
        if name in _EVALUATING and args:
            value = self.evaluated(node.args[0], args[0], env)
            self.evaluate(value, node.args[0], frame)
            if name in ("list", "tuple", "sorted", "reversed", "set", "frozenset"):
                return self.as_items(value)
            return None
        if name == "enumerate" and args:
            return Enumerated(args[0])
        if name == "zip" and args:
            return Zipped(tuple(args))
        if name == "chain" and frame.module.imports.get("chain", ("", None))[0] == "itertools":
            return self.chained(args)

        if name == "str" and len(args) == 1 and isinstance(args[0], Inst):
            self.dunder(args[0], "__str__", node, frame)
            return None
        if name in _ONE_OR_404 and args:
            qs = self.as_queryset(args[0])
            if qs is not None:
                return Inst(qs.model, qs.load, loop=self.current_loop(frame), arg=qs.arg)
            return None
        if name == "get_list_or_404" and args:
            qs = self.as_queryset(args[0])
            return self.as_items(qs)
        if name in _PREFETCHERS and node.args:
            self.mark_loaded(node.args[0], self.lookups(node.args[1:], env, frame), env)
            return None
        if name == "R" and len(node.args) >= 2:
            return self.r_call(node.args[0], args[0], node.args[1:], node.keywords, env, frame)
        if callee is None:
            self.maybe_loader(node, args, env)
        return None

    def maybe_loader(self, node: ast.Call, args: list[Value], env: Env) -> None:
        """An unknown call given instances and lookups of their model may load them.

        ``load_all(books, "author", Prefetch(...))``: the lookups that name a relation of
        the instances' model count as loaded from here on (silence over false alarms).
        """
        lookups = [a.value if isinstance(a, Str) else a for a in args if isinstance(a, (Str, PrefetchV))]
        if not lookups:
            return
        for arg_node, value in zip(node.args, args, strict=False):
            if not isinstance(arg_node, ast.Name) or not isinstance(value, (Inst, Items, QS)):
                continue
            valid = [
                lookup
                for lookup in lookups
                if self.index.relation(
                    value.model, (lookup.lookup if isinstance(lookup, PrefetchV) else lookup).split("__")[0]
                )
                is not None
            ]
            if valid:
                self.mark_loaded(arg_node, valid, env)

    def side_effect_call(self, node: ast.expr, env: Env, frame: _Frame) -> None:
        """An unknown function called only for its effect on instances may load them."""
        call = node.value if isinstance(node, ast.Await) else node
        if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name):
            return
        name = call.func.id
        if (
            name in _BUILTINS
            or name in _PREFETCHERS
            or name == "R"
            or self.name(name, env, frame) is not None
        ):
            return
        source = frame.module.imports.get(name, ("", None))[0]
        if source.split(".")[0] in ("django", "relations", "asgiref"):
            return
        for arg in call.args:
            if isinstance(arg, ast.Name) and isinstance(env.get(arg.id), (Inst, Items, QS)):
                self.mark_loaded(arg, None, env)

    def method_call(self, node: ast.Call, func: ast.Attribute, env: Env, frame: _Frame) -> Value:
        meth = func.attr
        base = self.expr(func.value, env, frame)
        if meth == "R" and isinstance(base, (Inst, Items)) and node.args:
            for a in node.args:
                self.expr(a, env, frame)
            return self.r_call(func.value, base, node.args, node.keywords, env, frame)
        if meth == "sync" and isinstance(base, RLoad):
            return self.resolve_r(base)
        if isinstance(base, ModelRef) and meth in ("objects",):
            return None
        args = [self.expr(a.value if isinstance(a, ast.Starred) else a, env, frame) for a in node.args]
        kwargs = {k.arg: self.expr(k.value, env, frame) for k in node.keywords if k.arg is not None}
        for k in node.keywords:
            if k.arg is None:
                self.expr(k.value, env, frame)
        if isinstance(base, QS):
            return self.queryset_method(base, meth, node, env, frame)
        if isinstance(base, Related):
            return self.related_method(base, meth, node, frame)
        if isinstance(base, Items) and meth == "sort":
            self.per_item_lambda("sorted", node, [base], env, frame)
            return None
        if isinstance(base, Str) and meth == "join" and args:
            self.evaluate(args[0], node.args[0], frame)
            return None
        if meth == "chain" and isinstance(func.value, ast.Name) and func.value.id == "itertools":
            return self.chained(args)
        if isinstance(base, ByKey):
            if meth == "values":
                return base.items
            if meth == "items":
                return ByKey(base.items, pairs=True)
            if meth in ("get", "pop"):
                return self.item(base.items)
            return None
        if isinstance(base, (FuncRef, SyncToAsync)):
            return None
        if isinstance(base, SelfRef):
            method = _class_method(base.cls, meth)
            if method is not None:
                ref = FuncRef(method, frame.module, base.cls)
                return self.call_func(ref, [None, *args], kwargs, node, frame, env=env)
            self.maybe_loader(node, args, env)
            return None
        if isinstance(base, Inst):
            member = self.index.method(base.model, meth)
            if member is not None and not member.is_property:
                return self.inline(
                    member.node, None, [base, *args], kwargs, node, frame, path=member.path, caller_env=env
                )
        if base is None:
            self.maybe_loader(node, args, env)
        return None

    def queryset_method(self, qs: QS, meth: str, node: ast.Call, env: Env, frame: _Frame) -> Value:
        if meth == "first" or meth == "afirst":
            # On an evaluated, ordered queryset first() takes its cached first item, a peer;
            # anything else runs a query of one row of its own.
            peers = qs.group if qs.ordered else None
            return Inst(qs.model, qs.load, loop=self.current_loop(frame), arg=qs.arg, group=peers)
        qs = replace(qs, group=None)  # every other method makes a new queryset (or query)
        if meth == "order_by":
            return replace(qs, order=bool(node.args))
        if meth in _KEEP:
            return qs
        if meth == "select_related":
            return replace(qs, load=self.select_related(qs, node, env, frame))
        if meth == "prefetch_related":
            lookups = self.lookups(node.args, env, frame)
            if node.keywords or lookups is None:
                return replace(qs, load=OPAQUE)
            load = qs.load
            for lookup in lookups:
                load = self.add_lookup(qs.model, load, lookup)
            return replace(qs, load=load)
        if meth in _ONE:
            return Inst(qs.model, qs.load, loop=self.current_loop(frame), arg=qs.arg)
        if meth in ("get_or_create", "aget_or_create", "update_or_create", "aupdate_or_create"):
            return TupleV((None, None))
        if meth in ("in_bulk", "ain_bulk"):
            return ByKey(Items(qs.model, qs.load, arg=qs.arg, group=_new_group()))  # a query of its own
        if meth in _OTHER:
            return None
        if meth in ("fetch_mode",):
            return replace(qs, load=OPAQUE)
        # A custom queryset or manager method.
        verdict = self.index.queryset_method(qs.manager, qs.model, meth)
        return qs if verdict == "keep" else replace(qs, load=OPAQUE)

    def related_method(self, related: Related, meth: str, node: ast.Call, frame: _Frame) -> Value:
        owner, rel = related.owner, related.rel
        if rel.target is None:
            return None
        if not related.all and meth == "all":
            return Related(owner, rel, all=True)
        if meth in ("count", "exists", "iterator") or (related.all and meth == "__len__"):
            self.read(owner, rel, node, frame)
            if meth == "iterator":
                return Items(rel.target, owner.load.child(rel.name), arg=owner.arg)
            return None
        if meth in _KEEP or meth in ("select_related", "prefetch_related"):
            return QS(rel.target, EMPTY)  # a new, explicit query
        if meth in _ONE:
            return Inst(rel.target, EMPTY, loop=self.current_loop(frame), arg=owner.arg)
        return None

    def select_related(self, qs: QS, node: ast.Call, env: Env, frame: _Frame) -> Load:
        if node.keywords:
            return OPAQUE
        if not node.args:
            return qs.load.union(Load(all_to_one=True))
        load = qs.load
        lookups = self.lookups(node.args, env, frame)
        if lookups is None:
            return OPAQUE
        for lookup in lookups:
            if not isinstance(lookup, str):
                return OPAQUE
            load = self.add_lookup(qs.model, load, lookup)
        return load

    def lookups(self, nodes: Sequence[ast.expr], env: Env, frame: _Frame) -> list[str | PrefetchV] | None:
        """Constant lookups (strings and Prefetch objects); None when any is not known."""
        result: list[str | PrefetchV] = []
        for node in nodes:
            if isinstance(node, ast.Starred):
                return None
            value = self.expr(node, env, frame)
            if isinstance(value, Str):
                result.append(value.value)
            elif isinstance(value, PrefetchV):
                result.append(value)
            elif isinstance(node, ast.Constant) and node.value is None:
                return None
            else:
                return None
        return result

    def prefetch_object(self, node: ast.Call, args: list[Value], kwargs: dict[str, Value]) -> Value:
        lookup = args[0] if args else kwargs.get("lookup")
        queryset = args[1] if len(args) > 1 else kwargs.get("queryset")
        to_attr = args[2] if len(args) > 2 else kwargs.get("to_attr")
        if not isinstance(lookup, Str):
            return None
        qs_node = node.args[1] if len(node.args) > 1 else None
        for k in node.keywords:
            if k.arg == "queryset":
                qs_node = k.value
        if qs_node is None or (isinstance(qs_node, ast.Constant) and qs_node.value is None):
            inner = EMPTY
        elif isinstance(queryset, QS):
            inner = queryset.load
        else:
            inner = OPAQUE  # a queryset the lint cannot follow: silence below it
        if to_attr is not None and not isinstance(to_attr, Str):
            return None
        return PrefetchV(lookup.value, inner, to_attr.value if isinstance(to_attr, Str) else None)

    def add_lookup(self, model: type[Model], load: Load, lookup: str | PrefetchV) -> Load:
        """``load`` after ``select_related``/``prefetch_related`` of ``lookup`` on ``model``."""
        if isinstance(lookup, PrefetchV):
            return self._add_hops(model, load, lookup.lookup.split("__"), lookup.inner, lookup.to_attr)
        return self._add_hops(model, load, lookup.split("__"), EMPTY, None)

    def _add_hops(
        self, model: type[Model] | None, load: Load, hops: list[str], leaf: Load, to_attr: str | None
    ) -> Load:
        if load.opaque:
            return load
        if model is None:
            return OPAQUE
        name, rest = hops[0], hops[1:]
        rel = self.index.relation(model, name)
        if rel is None:
            return OPAQUE if not rest else load.union(OPAQUE)
        if not rest:
            if to_attr is not None:
                target = rel.target
                if target is None:
                    return load
                return load.with_attr(to_attr, target, leaf)
            return load.with_child(name, leaf)
        child = load.child(name)
        return load.with_child(name, self._add_hops(rel.target, child, rest, leaf, to_attr))

    def r_call(
        self,
        target_node: ast.expr,
        target: Value,
        path_nodes: Sequence[ast.expr],
        keywords: Sequence[ast.keyword],
        env: Env,
        frame: _Frame,
    ) -> Value:
        if not isinstance(target, (Inst, Items)) or not path_nodes:
            return None
        first = path_nodes[0]
        path = first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None
        self.mark_loaded(target_node, None if path is None else [path], env)
        peers = target.group if isinstance(target, Inst) and self.peers and _shares(keywords) else None
        if peers is not None:
            self.load_peers(peers, path, env, frame)
        if path is None:
            return None
        hops = tuple(path.split("__"))
        owner = env.get(target_node.id) if isinstance(target_node, ast.Name) else None
        if isinstance(owner, (Inst, Items)) and owner.model is target.model:
            target = owner
        elif not target.load.opaque:
            target = replace(target, load=self.add_lookup(target.model, target.load, path))
        return RLoad(target, hops, group=None if peers is None else (*peers, *hops))

    def load_peers(self, group: Group, path: str | None, env: Env, frame: _Frame) -> None:
        """``R(path)`` on a member of ``group`` loads ``path`` on all its live peers.

        Every variable holding peers (or instances they lead to, or come from, by a
        path) gets the load (``None``: an unknown path, everything counts as loaded);
        a helper passes the load on to its caller.
        """
        frame.peer_loads.append((group, path))
        for name, value in list(env.items()):
            if isinstance(value, ByKey):
                items = self.peer_loaded(value.items, group, path)
                env[name] = replace(value, items=items) if isinstance(items, Items) else value
            elif isinstance(value, (Inst, Items, QS)):
                env[name] = self.peer_loaded(value, group, path)

    def peer_loaded(self, value: Inst | Items | QS, group: Group, path: str | None) -> Inst | Items | QS:
        """``value`` after ``path`` was loaded on the members of ``group``."""
        if value.group is None or not _related_groups(value.group, group):
            return value
        # Instances above the group reach it only through relations loaded for all of them
        # (an author that one book loaded alone, by ``queryset=``, has no peers).
        if not self.loads_path(value.model, value.load, group[len(value.group) :]):
            return value
        if path is None:
            return replace(value, load=OPAQUE)
        relative = _relative_lookup(value.group, group, path)
        return replace(value, load=self.add_lookup(value.model, value.load, relative)) if relative else value

    def loads_path(self, model: type[Model] | None, load: Load, hops: Sequence[str]) -> bool:
        """Does ``load`` (on ``model``) load every relation of ``hops``?"""
        for hop in hops:
            rel = self.index.relation(model, hop) if model is not None else None
            if rel is None or not load.has(rel):
                return False
            model, load = rel.target, load.child(hop)
        return True

    def resolve_r(self, load: RLoad) -> Value:
        """The value of an awaited ``R()``: the object(s) at the end of the path."""
        owner = load.owner
        model: type[Model] | None = owner.model
        current = owner.load
        many = isinstance(owner, Items)
        for hop in load.hops:
            if model is None:
                return None
            rel = self.index.relation(model, hop)
            if rel is None:
                return None
            many = many or rel.many
            current = current.child(hop)
            model = rel.target
        if model is None:
            return None
        if many:
            return Items(model, current, arg=owner.arg, group=load.group)
        loop = owner.loop if isinstance(owner, Inst) else None
        return Inst(model, current, loop=loop, arg=owner.arg, group=load.group)

    def mark_loaded(self, node: ast.expr, lookups: list[str | PrefetchV] | None, env: Env) -> None:
        """An explicit load (R, prefetch) of ``lookups`` on the variable(s) at ``node``."""
        names: list[str] = []
        if isinstance(node, ast.Name):
            names.append(node.id)
        elif isinstance(node, (ast.List, ast.Tuple)):
            names.extend(e.id for e in node.elts if isinstance(e, ast.Name))
        for name in list(names):
            # R() on each item of a loop: the list it iterates is loaded too.
            value = env.get(name)
            if isinstance(value, Inst) and value.source is not None and value.path == ():
                names.append(value.source)
        for name in names:
            value = env.get(name)
            if not isinstance(value, (Inst, Items, QS)):
                continue
            if lookups is None:
                env[name] = replace(value, load=OPAQUE)
                continue
            load = value.load
            for lookup in lookups:
                load = self.add_lookup(value.model, load, lookup)
            env[name] = replace(value, load=load)

    def as_items(self, value: Value) -> Value:
        """The instances that iterating ``value`` gives (a queryset: one evaluation, peers)."""
        if isinstance(value, QS):
            return Items(value.model, value.load, arg=value.arg, group=value.group or _new_group())
        if isinstance(value, Items):
            return value
        if isinstance(value, Related) and value.all and value.rel.target is not None:
            item = self.related_item(value, None)
            if isinstance(item, Inst):
                return Items(
                    item.model, item.load, arg=item.arg, path=item.path, via_many=True, group=item.group
                )
        return None

    def per_item_lambda(self, name: str, node: ast.Call, args: list[Value], env: Env, frame: _Frame) -> None:
        """``sorted(items, key=lambda x: ...)`` and friends run the lambda once per item, here."""
        if name in ("map", "filter"):
            func = node.args[0] if node.args else None
            iterable = args[1] if len(args) > 1 else None
            iter_node: ast.expr | None = node.args[1] if len(node.args) > 1 else None
        else:
            func = next((k.value for k in node.keywords if k.arg == "key"), None)
            iterable = args[0] if args else None
            iter_node = node.args[0] if node.args else None
        if not isinstance(func, ast.Lambda) or iter_node is None:
            return
        params = _params(func)
        if len(params) != 1:
            return
        loop = next(_Loops.counter)
        element = self.element(self.as_items(iterable) or iterable, iter_node, False, loop, frame)
        local = dict(env)
        local[params[0]] = element
        frame.loops.append(loop)
        try:
            self.expr(func.body, local, frame)
        finally:
            frame.loops.pop()

    def chained(self, args: list[Value]) -> Value:
        """``itertools.chain(a, b, ...)`` of results of one model: their items."""
        result: Value = None
        for i, arg in enumerate(args):
            items = self.as_items(arg)
            if items is None:
                return None
            result = items if i == 0 else _join_values(result, items)
        return result

    def as_queryset(self, value: Value) -> QS | None:
        if isinstance(value, ModelRef):
            manager = value.model._default_manager
            load = OPAQUE if self.index.manager_loads(manager) else EMPTY
            return QS(value.model, load, manager=manager)
        return value if isinstance(value, QS) else None

    # -- looking into helpers ------------------------------------------------------

    def dunder(self, inst: Inst, name: str, node: ast.AST, frame: _Frame) -> None:
        method = self.index.method(inst.model, name)
        if method is not None:
            self.inline(method.node, None, [inst], {}, node, frame, path=method.path)

    def call_func(
        self,
        callee: FuncRef,
        args: list[Value],
        kwargs: dict[str, Value],
        node: ast.Call,
        frame: _Frame,
        force_sync: bool = False,
        env: Env | None = None,
    ) -> Value:
        path = callee.module.path
        return self.inline(callee.node, callee.module, args, kwargs, node, frame, path, force_sync, env)

    def inline(
        self,
        func: ast.FunctionDef | ast.AsyncFunctionDef,
        module: ModuleInfo | None,
        args: list[Value],
        kwargs: dict[str, Value],
        node: ast.AST,
        frame: _Frame,
        path: str = "",
        force_sync: bool = False,
        caller_env: Env | None = None,
    ) -> Value:
        """Look into ``func`` called with ``args`` at ``node``; return its value if known.

        Loads the helper does on its arguments (``prefetch(books, ...)`` inside it) are
        applied to the caller's variables.
        """
        tracked = any(isinstance(v, (Inst, Items, QS)) for v in (*args, *kwargs.values()))
        key = id(func)
        if not tracked:
            return _fresh_group(self.returns_of(func, module))
        if frame.depth >= _MAX_DEPTH or key in self._busy:
            return None
        if module is None:
            module = self.module_for(path)
            if module is None:
                return None
        is_async = isinstance(func, ast.AsyncFunctionDef) or (frame.is_async and not force_sync)
        callee = _Frame(
            module=module,
            is_async=is_async,
            inline=True,
            chain=(*frame.chain, func.name),
            depth=frame.depth + 1,
            loops=[_CALLER_LOOP],
        )
        env: Env = {}
        params = _params(func)
        for i, param in enumerate(params):
            value = args[i] if i < len(args) else kwargs.get(param)
            env[param] = self.as_argument(value, frame)
        self._busy.add(key)
        try:
            final = self.block(func.body, env, callee)
        finally:
            self._busy.discard(key)
        self.report_call(node, callee.raws, frame)
        for group, loaded in callee.peer_loads:  # R() on peers inside the helper
            if caller_env is not None:
                self.load_peers(group, loaded, caller_env, frame)
            else:
                frame.peer_loads.append((group, loaded))
        if caller_env is not None and isinstance(node, ast.Call):
            arg_nodes: list[ast.expr | None] = list(node.args)
            if len(args) == len(arg_nodes) + 1:  # self, then the call's arguments
                arg_nodes.insert(0, None)
            for param, arg_node in zip(params, arg_nodes, strict=False):
                self.take_loads(arg_node, final.get(param), caller_env)
        result: Value = None
        for value in callee.returns:
            result = _join_values(result, value) if result is not None else value
        return self.from_callee(result, frame)

    def take_loads(self, arg_node: ast.expr | None, value: Value, env: Env) -> None:
        if not isinstance(arg_node, ast.Name) or not isinstance(value, (Inst, Items, QS)):
            return
        mine = env.get(arg_node.id)
        if isinstance(mine, (Inst, Items, QS)) and mine.model is value.model and mine.load != value.load:
            env[arg_node.id] = replace(mine, load=mine.load.union(value.load))

    def as_argument(self, value: Value, frame: _Frame) -> Value:
        if isinstance(value, Inst):
            per_item = value.loop is not None and value.loop in frame.loops
            return replace(value, arg=True, loop=_CALLER_LOOP if per_item else None)
        if isinstance(value, (Items, QS)):
            return replace(value, arg=True)
        return None

    def from_callee(self, value: Value, frame: _Frame) -> Value:
        if isinstance(value, Inst):
            return replace(value, arg=frame.inline and value.arg, loop=None)
        if isinstance(value, (Items, QS)):
            return replace(value, arg=frame.inline and value.arg)
        return None

    def returns_of(self, func: ast.FunctionDef | ast.AsyncFunctionDef, module: ModuleInfo | None) -> Value:
        """What ``func`` returns when that does not depend on its arguments (cached)."""
        key = id(func)
        if key in self._return_cache:
            return self._return_cache[key]
        if key in self._busy or module is None:
            return None
        self._busy.add(key)
        try:
            callee = _Frame(module=module, is_async=isinstance(func, ast.AsyncFunctionDef), inline=True)
            env: Env = dict.fromkeys(_params(func))
            self.block(func.body, env, callee)
        finally:
            self._busy.discard(key)
        result: Value = None
        for i, value in enumerate(callee.returns):
            result = value if i == 0 else _join_values(result, value)
        if isinstance(result, Inst):
            result = replace(result, loop=None)
        if not isinstance(result, (QS, Items, Inst)):
            result = None
        self._return_cache[key] = result
        return result

    def module_for(self, path: str) -> ModuleInfo | None:
        if path == self.module.path:
            return self.module
        return self.modules.at(path) if self.modules is not None else None


def _params(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> list[str]:
    a = node.args
    names = [p.arg for p in (*a.posonlyargs, *a.args)]
    if a.vararg:
        names.append(a.vararg.arg)
    names.extend(p.arg for p in a.kwonlyargs)
    if a.kwarg:
        names.append(a.kwarg.arg)
    return names


def _class_method(cls: ast.ClassDef, name: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    for node in cls.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            return node
    return None


def _var_name(model: type[Model]) -> str:
    return model._meta.model_name or model.__name__.lower()


def _shares(keywords: Sequence[ast.keyword]) -> bool:
    """Does an ``R()`` call with ``keywords`` load its instance's peers too?

    ``queryset=`` (anything but ``None``) and ``refresh=True`` load only their own
    instance; ``refresh=`` a variable and ``**options`` count as sharing (silence over
    false alarms).
    """
    for keyword in keywords:
        value = keyword.value
        constant = value.value if isinstance(value, ast.Constant) else ...
        if keyword.arg == "queryset" and constant is not None:
            return False
        if keyword.arg == "refresh" and constant is True:
            return False
    return True


def _fresh_group(value: Value) -> Value:
    """A result computed once for every call: each call evaluates its queryset anew."""
    if isinstance(value, (QS, Items, Inst)) and value.group is not None:
        return replace(value, group=(next(_evaluations), *value.group[1:]))
    return value


def _related_groups(a: Group, b: Group) -> bool:
    """Is one group the other's, or one reached from it by a relation path?"""
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def _relative_lookup(group: Group, loaded: Group, lookup: str) -> str | None:
    """``lookup`` loaded on the members of ``loaded``, as a lookup on those of ``group``
    (groups related by ``_related_groups``).

    ``(7,)`` with ``(7, "author")`` and ``"publisher"``: ``"author__publisher"``;
    ``(7, "author")`` with ``(7,)`` and ``"author__publisher"``: ``"publisher"``.
    None when the load does not reach the members of ``group``.
    """
    hops = [*loaded[len(group) :], *lookup.split("__")]
    below = list(group[len(loaded) :])
    if hops[: len(below)] != below:
        return None
    return "__".join(hops[len(below) :]) or None


def _sub_group(owner: Inst, rel: Rel) -> Group | None:
    """The peers of ``owner.<rel>``: the related objects its peers loaded together.

    Only when the query (or an earlier load) loaded the relation for the whole group;
    read one by one, each related object was fetched alone.
    """
    if owner.group is None or not owner.load.has(rel) or owner.load.child(rel.name).opaque:
        return None
    return (*owner.group, rel.name)


def _join_values(a: Value, b: Value) -> Value:
    if a == b:
        return a
    if isinstance(a, QS) and isinstance(b, QS) and a.model is b.model:
        group = a.group if a.group == b.group else None
        order = a.order if a.order == b.order else None
        return QS(
            a.model, a.load.union(b.load), arg=a.arg and b.arg, manager=a.manager, group=group, order=order
        )
    if isinstance(a, Items) and isinstance(b, Items) and a.model is b.model:
        group = a.group if a.group == b.group else None
        return Items(a.model, a.load.union(b.load), arg=a.arg and b.arg, path=a.path, group=group)
    if isinstance(a, Inst) and isinstance(b, Inst) and a.model is b.model:
        loop = a.loop if a.loop == b.loop else None
        group = a.group if a.group == b.group else None
        return Inst(a.model, a.load.union(b.load), loop=loop, arg=a.arg and b.arg, path=a.path, group=group)
    return None


def _join(a: Env, b: Env) -> Env:
    """The state after two branches: anything loaded on either side counts as loaded."""
    result: Env = {}
    for name in a.keys() | b.keys():
        if name in a and name in b:
            result[name] = _join_values(a[name], b[name])
        else:
            result[name] = a[name] if name in a else b[name]
    return result
