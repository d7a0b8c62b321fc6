"""mypy plugin for django-strict-relations, layered on django-stubs' plugin.

Configuration (either order works)::

    [mypy]
    plugins = mypy_django_plugin.main, relations.stubs.mypy_plugin
    # opt in to loaded-relation tracking:
    enable_error_code = relation-not-loaded

What it does:

* gives every model (contrib ones included) ``R(self, path) -> RelationLoad[Any]``
  by adding the method to ``django.db.models.base.Model`` while mypy analyses
  Django's stubs (no mixin anywhere), then refines each call with a literal path:
  ``await book.R("author")`` is ``Author``, ``book.R("tags").sync()`` is
  ``list[Tag]``; the functional ``relations.R(book, "author")`` likewise;
* reports unknown relation names with the error code ``relation-unknown``;
* with ``relation-not-loaded`` enabled, tracks which relations a value has loaded
  (``select_related``/``prefetch_related``/``Loaded[...]``) and reports reads of
  relations that are not.

Relations are resolved on the runtime models (django-stubs' plugin has already run
``django.setup()`` in this process) with the library's own resolver, so the names
and kinds are exactly those ``R()`` accepts at runtime.  This module imports no
Django at import time: mypy may load it before django-stubs' plugin.
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache, partial
from typing import TYPE_CHECKING, Any, Final

from mypy.errorcodes import ErrorCode
from mypy.nodes import (
    ARG_NAMED_OPT,
    ARG_POS,
    Argument,
    CallExpr,
    Decorator,
    Expression,
    FuncDef,
    MemberExpr,
    MypyFile,
    NameExpr,
    RefExpr,
    StrExpr,
    TypeInfo,
    Var,
)
from mypy.plugin import (
    AnalyzeTypeContext,
    AttributeContext,
    CheckerPluginInterface,
    ClassDefContext,
    FunctionContext,
    FunctionSigContext,
    MethodContext,
    MethodSigContext,
    Plugin,
    ReportConfigContext,
)
from mypy.plugins.common import add_method_to_class
from mypy.typeops import make_simplified_union
from mypy.types import (
    AnyType,
    CallableType,
    ExtraAttrs,
    Instance,
    LiteralType,
    NoneType,
    ProperType,
    Type,
    TypeOfAny,
    TypeVarType,
    UnionType,
    get_proper_type,
)

if TYPE_CHECKING:
    from django.db.models import Model

    from relations.kinds import RelationInfo

VERSION: Final = "1"
MODEL: Final = "django.db.models.base.Model"
QUERYSET: Final = "django.db.models.query.QuerySet"
MANAGER: Final = "django.db.models.manager.BaseManager"
TYPES_MODULE: Final = "relations.stubs._types"
RELATION_LOAD: Final = "relations.stubs._types.RelationLoad"
LOADED: Final = "relations.stubs._types.Loaded"
FUNCTIONAL_R: Final = "relations.api.R"
DJANGO_PLUGIN: Final = "mypy_django_plugin"
CONFIG_SECTION: Final = "django-strict-relations"
# Callees that cannot declare Loaded[...] parameters: not looked up on every call.
SKIPPED_MODULES: Final = ("builtins.", "typing.", "typing_extensions.", "collections.", "django.", "asyncio.")

RELATION_UNKNOWN: Final = ErrorCode(
    "relation-unknown", "R() path names no relation of the model", "Relations"
)
RELATION_NOT_LOADED: Final = ErrorCode(
    "relation-not-loaded",
    "A relation is read where the type says it is not loaded",
    "Relations",
    default_enabled=False,
)

# Loaded relation paths ride on the model Instance as extra attributes, as
# django-stubs carries annotate() results; "@" keeps them out of reach of code.
MARK: Final = "@loaded:"
ANY_PATH: Final = "*"


class NotARelationError(Exception):
    """A path hop that names no relation; the message is the user-facing error."""


def _literal_strings(typ: Type) -> list[str] | None:
    """The strings of a Literal (or union of Literals, or Final str); None if not literal."""
    typ = get_proper_type(typ)
    if isinstance(typ, LiteralType) and isinstance(typ.value, str):
        return [typ.value]
    if isinstance(typ, Instance) and isinstance(typ.last_known_value, LiteralType):
        value = typ.last_known_value.value
        return [value] if isinstance(value, str) else None
    if isinstance(typ, UnionType):
        found: list[str] = []
        for item in typ.items:
            strings = _literal_strings(item)
            if strings is None:
                return None
            found.extend(strings)
        return found
    return None


def markers(typ: Instance) -> set[str]:
    """The loaded relation paths carried by a model instance type."""
    if typ.extra_attrs is None:
        return set()
    return {name[len(MARK) :] for name in typ.extra_attrs.attrs if name.startswith(MARK)}


def with_markers(typ: Instance, paths: Iterable[str]) -> Instance:
    """``typ`` with ``paths`` (and each path's prefixes) marked as loaded."""
    expanded: set[str] = set()
    for path in paths:
        hops = path.split("__")
        expanded.update("__".join(hops[: i + 1]) for i in range(len(hops)))
    if not expanded:
        return typ
    old = typ.extra_attrs
    attrs = dict(old.attrs) if old is not None else {}
    for path in sorted(expanded):
        attrs[MARK + path] = AnyType(TypeOfAny.special_form)
    new = typ.copy_modified()
    new.extra_attrs = ExtraAttrs(
        attrs, set(old.immutable) if old is not None else set(), old.mod_name if old is not None else None
    )
    return new


def is_loaded(loaded: set[str], path: str) -> bool:
    """Whether ``path`` is loaded according to the marker set ``loaded``."""
    if ANY_PATH in loaded or path in loaded:
        return True
    hops = path.split("__")
    return any("__".join([*hops[:i], ANY_PATH]) in loaded for i in range(1, len(hops)))


def nested(loaded: set[str], name: str) -> set[str]:
    """The markers of the value reached through the relation ``name``."""
    prefix = name + "__"
    inner = {path[len(prefix) :] for path in loaded if path.startswith(prefix)}
    if ANY_PATH in loaded:
        inner.add(ANY_PATH)
    return inner


def _models_by_fullname() -> dict[str, type[Model]]:
    from django.apps import apps

    found: dict[str, type[Model]] = {}
    for model in apps.get_models(include_auto_created=True, include_swapped=True):
        found[f"{model.__module__}.{model.__qualname__}"] = model
        for base in model.__mro__[1:]:  # abstract bases declare fields their subclasses inherit
            meta = base.__dict__.get("_meta")
            if meta is not None and meta.abstract:
                found.setdefault(f"{base.__module__}.{base.__qualname__}", base)
    return found


def _relations_of(model: type[Model]) -> dict[str, RelationInfo]:
    """The relations ``R()`` accepts on ``model`` (the library's resolver; cached there)."""
    return _resolver()(model)


@cache
def _resolver() -> Callable[[type[Model]], dict[str, RelationInfo]]:
    from relations.loaders.resolve import relations_of

    return relations_of


def _is_field(model: type[Model], name: str) -> bool:
    from relations.loaders.resolve import _is_field as is_field  # the runtime error's own test

    return is_field(model, name)


def unknown_message(model: type[Model], name: str, path: str) -> str:
    """The error for a hop that names no relation (same wording as the runtime error)."""
    names = list(_relations_of(model))
    where = f'In "{path}": ' if path != name else ""
    model_name = model.__name__
    if _is_field(model, name):
        head = f'"{name}" is a field of {model_name}, not a relation'
    else:
        head = f'"{name}" is not a relation of {model_name}'
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    hint = f'; did you mean "{close[0]}"?' if close else "."
    listing = ", ".join(names) if names else "(none)"
    return f"{where}{head}{hint} Relations: {listing}"


class RelationsPlugin(Plugin):
    """Types ``R()`` and tracks loaded relations; needs django-stubs' plugin too."""

    def __init__(self, options: Any) -> None:
        super().__init__(options)
        if not any(DJANGO_PLUGIN in name for name in options.plugins):
            # mypy's own exit status for configuration errors; a traceback would hide the fix.
            sys.stderr.write(
                "error: relations.stubs.mypy_plugin needs django-stubs' mypy plugin: add it to your mypy "
                "configuration, e.g.\n    plugins = mypy_django_plugin.main, relations.stubs.mypy_plugin\n"
                "and set django_settings_module in [mypy.plugins.django-stubs].\n"
            )
            raise SystemExit(2)
        # Tracking costs a hook on every call and relation read: installed only when the
        # configuration enables it somewhere.
        self._tracking = _enabled_in_config(options)
        if _tracking_option(options.config_file):
            # mypy < 1.19 rejects plugin error codes in enable_error_code (python/mypy#19719).
            options.enabled_error_codes.add(RELATION_NOT_LOADED)
            options.disabled_error_codes.discard(RELATION_NOT_LOADED)
            self._tracking = True
        self._models: dict[str, type[Model]] | None = None
        self._path_types: dict[tuple[type[Model], str], Type] = {}

    # --- runtime models ------------------------------------------------------------

    def _model_class(self, fullname: str) -> type[Model] | None:
        if self._models is None:
            self._models = _models_by_fullname()
        return self._models.get(fullname)

    def _runtime_model(self, typ: Type) -> type[Model] | None:
        """The concrete runtime model behind a static type (first registered class in its MRO).

        None for ``Model`` itself and for abstract models: their relations depend on
        the subclass, so nothing is said about them.
        """
        proper = get_proper_type(typ)
        if isinstance(proper, TypeVarType):
            proper = get_proper_type(proper.upper_bound)
        if not isinstance(proper, Instance):
            return None
        for info in proper.type.mro:  # django-stubs' Book@AnnotatedWith subclasses Book
            model = self._model_class(info.fullname)
            if model is not None:
                return None if model._meta.abstract else model
            if info.fullname == MODEL:
                break
        return None

    def _instance_of(self, model: type[Model]) -> Type:
        info = self._find(model.__module__, model.__qualname__)
        if isinstance(info, TypeInfo):
            return Instance(info, [AnyType(TypeOfAny.special_form)] * len(info.defn.type_vars))
        return AnyType(TypeOfAny.special_form)

    def _find(self, module: str, name: str) -> Any:
        """The node ``name`` (``Class`` or ``Class.member``) of a loaded module, or None.

        A direct walk of the symbol tables: hooks run for every call mypy checks, and
        this is cheaper than ``lookup_fully_qualified``.
        """
        file = self._modules.get(module) if self._modules is not None else None
        if file is None:
            return None
        head, _, member = name.partition(".")
        sym = file.names.get(head)
        node = sym.node if sym is not None else None
        if member:
            if not isinstance(node, TypeInfo) or "." in member:
                return None
            sym = node.names.get(member)
            node = sym.node if sym is not None else None
        return node

    # --- hooks -----------------------------------------------------------------------

    def get_additional_deps(self, file: MypyFile) -> list[tuple[int, str, int]]:
        if file.fullname == "django.db.models.base":
            return [(10, TYPES_MODULE, -1)]
        return []

    def get_customize_class_mro_hook(self, fullname: str) -> Callable[[ClassDefContext], None] | None:
        return add_r_method if fullname == MODEL else None

    def get_method_hook(self, fullname: str) -> Callable[[MethodContext], Type] | None:
        class_name, _, method = fullname.rpartition(".")
        if method == "R":
            info = self._typeinfo(class_name)
            if info is not None and info.has_base(MODEL):
                return self._method_r
        if not self._tracking:
            return None
        needs = self._loaded_params_of(fullname)
        return partial(self._check_loaded_args, fullname.rpartition(".")[2], needs) if needs else None

    def get_function_hook(self, fullname: str) -> Callable[[FunctionContext], Type] | None:
        if fullname == FUNCTIONAL_R:
            return self._function_r
        if not self._tracking:
            return None
        needs = self._loaded_params_of(fullname)
        return partial(self._check_loaded_args, fullname.rpartition(".")[2], needs) if needs else None

    def get_method_signature_hook(self, fullname: str) -> Callable[[MethodSigContext], CallableType] | None:
        if not self._tracking:
            return None
        class_name, _, method = fullname.rpartition(".")
        if method in ("select_related", "prefetch_related", "create", "acreate"):
            info = self._typeinfo(class_name)
            if info is not None and (info.has_base(QUERYSET) or info.has_base(MANAGER)):
                return self._mark_queryset if method.endswith("related") else self._mark_constructed
        return None

    def get_function_signature_hook(
        self, fullname: str
    ) -> Callable[[FunctionSigContext], CallableType] | None:
        if not self._tracking:
            return None
        model = self._model_class(fullname)
        return self._mark_constructed if model is not None and not model._meta.abstract else None

    def get_attribute_hook(self, fullname: str) -> Callable[[AttributeContext], Type] | None:
        if not self._tracking:
            return None
        class_name, _, attr = fullname.rpartition(".")
        model = self._model_class(class_name)
        # Claimed for relation attributes only: django-stubs has attribute hooks of
        # its own on models (is_staff, ...) and only one plugin's hook runs.  An abstract
        # model's relations are read on its concrete subclasses, which the hook resolves.
        if model is not None and attr in _relations_of(model):
            return self._read_relation
        return None

    def get_type_analyze_hook(self, fullname: str) -> Callable[[AnalyzeTypeContext], Type] | None:
        return self._analyze_loaded if fullname == LOADED else None

    def report_config_data(self, ctx: ReportConfigContext) -> Any:
        return {"relations.stubs.mypy_plugin": VERSION, "tracking": self._tracking}

    def _typeinfo(self, fullname: str) -> TypeInfo | None:
        try:
            node = self.lookup_fully_qualified(fullname)
        except AssertionError:  # modules not set yet (hooks queried during semantic analysis)
            return None
        return node.node if node is not None and isinstance(node.node, TypeInfo) else None

    # --- R() --------------------------------------------------------------------------

    def _method_r(self, ctx: MethodContext) -> Type:
        if not ctx.arg_types or not ctx.arg_types[0]:
            return ctx.default_return_type
        return self._refine_r(ctx.api, ctx.context, ctx.type, ctx.arg_types[0][0], ctx.default_return_type)

    def _function_r(self, ctx: FunctionContext) -> Type:
        if len(ctx.arg_types) < 2 or not ctx.arg_types[0] or not ctx.arg_types[1]:
            return ctx.default_return_type
        return self._refine_r(
            ctx.api, ctx.context, ctx.arg_types[0][0], ctx.arg_types[1][0], ctx.default_return_type
        )

    def _refine_r(
        self, api: CheckerPluginInterface, context: Any, receiver: Type, path_type: Type, default: Type
    ) -> Type:
        ret = get_proper_type(default)
        paths = _literal_strings(path_type)
        model = self._runtime_model(receiver)
        if not isinstance(ret, Instance) or not ret.args or paths is None or model is None:
            return default
        results: list[Type] = []
        for path in paths:
            try:
                results.append(self.path_type(api, model, path))
            except NotARelationError as error:
                api.fail(str(error), context, code=RELATION_UNKNOWN)
                return default
        result = results[0] if len(results) == 1 else make_simplified_union(results)
        return ret.copy_modified(args=[*ret.args[:-1], result])

    def path_type(self, api: CheckerPluginInterface, model: type[Model], path: str) -> Type:
        """What ``R(instance_of_model, path)`` gives, as a mypy type.

        Memoized per build: a project calls ``R()`` with the same few paths at thousands
        of sites, and the type depends only on the runtime model, the path and the
        TypeInfos of this build (mypy hands plugins a new module table per build).
        """
        key = (model, path)
        found = self._path_types.get(key)
        if found is None:
            found = self._path_types[key] = self._build_path_type(api, model, path)
        return found

    def set_modules(self, modules: dict[str, MypyFile]) -> None:
        super().set_modules(modules)
        self._path_types.clear()

    def _build_path_type(self, api: CheckerPluginInterface, model: type[Model], path: str) -> Type:
        shape = resolve_path(model, path)
        if isinstance(shape, str):
            raise NotARelationError(shape)
        end: Type
        if shape.ends is None:
            end = AnyType(TypeOfAny.special_form)
        elif len(shape.ends) == 1:
            end = self._instance_of(shape.ends[0])
        else:
            end = make_simplified_union([self._instance_of(m) for m in shape.ends])
        if self._tracking and shape.back is not None and isinstance(end, Instance):
            end = with_markers(end, [shape.back])  # the loader caches the way back on each object
        if shape.many:
            return api.named_generic_type("builtins.list", [end])
        if isinstance(end, AnyType):
            return end
        return make_simplified_union([end, NoneType()]) if shape.nullable else end

    # --- loaded-relation tracking -----------------------------------------------------

    def _mark_queryset(self, ctx: MethodSigContext) -> CallableType:
        sig = ctx.default_signature
        ret = get_proper_type(sig.ret_type)
        if not isinstance(ret, Instance) or not ret.args:
            return sig
        select = sig.name is not None and sig.name.startswith("select_related")
        paths: set[str] = set()
        exprs = [e for group in ctx.args for e in group]
        if select and not exprs:
            paths.add(ANY_PATH)  # select_related(): every non-null foreign key, recursively
        for expr in exprs:
            paths.update(_lookup_paths(expr))
        if not paths:
            return sig
        args = [
            with_markers(arg, paths) if isinstance(arg, Instance) and arg.type.has_base(MODEL) else a
            for a in ret.args
            for arg in [get_proper_type(a)]
        ]
        return sig.copy_modified(ret_type=ret.copy_modified(args=args))

    def _mark_constructed(self, ctx: FunctionSigContext | MethodSigContext) -> CallableType:
        """``Book(author=a)`` / ``create(author=a)``: the relations passed by keyword are cached."""
        sig = ctx.default_signature
        names = ctx.context.arg_names if isinstance(ctx.context, CallExpr) else []
        if not any(names):
            return sig
        ret = get_proper_type(sig.ret_type)
        target = ret
        if isinstance(ret, Instance) and not ret.type.has_base(MODEL) and ret.args:  # acreate: Coroutine
            target = get_proper_type(ret.args[-1])
        model = self._runtime_model(target)
        if model is None or not isinstance(target, Instance):
            return sig
        relations = _relations_of(model)
        passed = [name for name in names if name is not None and name in relations]
        if not passed:
            return sig
        marked = with_markers(target, passed)
        if target is ret or not isinstance(ret, Instance):
            return sig.copy_modified(ret_type=marked)
        return sig.copy_modified(ret_type=ret.copy_modified(args=[*ret.args[:-1], marked]))

    def _read_relation(self, ctx: AttributeContext) -> Type:
        receiver = ctx.type
        if ctx.is_lvalue or not isinstance(receiver, Instance):
            return ctx.default_attr_type
        model = self._runtime_model(receiver)
        name = _attr_name(ctx.context)
        if model is None or name is None:
            return ctx.default_attr_type
        info = _relations_of(model).get(name)
        if info is None:
            return ctx.default_attr_type
        from relations.kinds import Kind

        loaded = markers(receiver)
        # Django builds the parent of a multi-table child from the joined columns.
        if info.kind is not Kind.PARENT_LINK and not is_loaded(loaded, name):
            fix = info.kind.fix_method
            ctx.api.fail(
                f'Relation "{name}" of {model.__name__} is not loaded here; add {fix}("{name}") to the '
                f'queryset, annotate the value as Loaded[{model.__name__}, Literal["{name}"]], '
                f'or use await obj.R("{name}")',
                ctx.context,
                code=RELATION_NOT_LOADED,
            )
            return ctx.default_attr_type
        inner = nested(loaded, name)
        return _mark_value(ctx.default_attr_type, inner) if inner else ctx.default_attr_type

    def _analyze_loaded(self, ctx: AnalyzeTypeContext) -> Type:
        args = ctx.type.args
        if len(args) != 2:
            ctx.api.fail(
                'Loaded[...] takes a model and a Literal of relation paths: Loaded[Book, Literal["author"]]',
                ctx.context,
            )
            return AnyType(TypeOfAny.from_error)
        model = get_proper_type(ctx.api.analyze_type(args[0]))
        paths = _literal_strings(ctx.api.analyze_type(args[1]))
        if paths is None:
            ctx.api.fail(
                "The second argument of Loaded[...] must be a Literal of relation paths", ctx.context
            )
            return model
        if not isinstance(model, Instance):
            return model
        runtime = self._model_class(model.type.fullname)
        if runtime is not None and not runtime._meta.abstract:
            for path in paths:
                try:
                    self._check_path(runtime, path)
                except NotARelationError as error:
                    ctx.api.fail(str(error), ctx.context, code=RELATION_UNKNOWN)
        return with_markers(model, paths)

    def _check_path(self, model: type[Model], path: str) -> None:
        current: type[Model] | None = model
        for hop in path.split("__"):
            if current is None:
                return
            info = _relations_of(current).get(hop)
            if info is None:
                raise NotARelationError(unknown_message(current, hop, path))
            current = info.target

    def _loaded_params_of(self, fullname: str) -> list[set[str]] | None:
        """Per parameter of the callable ``fullname``, the relations its Loaded[...] type requires.

        Not cached: under dmypy the plugin outlives edits to the signatures it reads.
        """
        return _callee_needs(self._callee_type(fullname))

    def _callee_type(self, fullname: str) -> CallableType | None:
        if fullname.startswith(SKIPPED_MODULES):
            return None
        module, _, name = fullname.rpartition(".")
        node = self._find(module, name)
        if node is None:  # a method: the class is the last part of the module path
            module, _, cls = module.rpartition(".")
            node = self._find(module, f"{cls}.{name}")
        if isinstance(node, Decorator):
            node = node.func
        if isinstance(node, FuncDef) and isinstance(node.type, CallableType):
            return node.type
        return None  # overloads and other callables are not checked

    def _check_loaded_args(
        self, callee: str, needs: list[set[str]], ctx: FunctionContext | MethodContext
    ) -> Type:
        offset = len(needs) - len(ctx.arg_types)  # a bound method's formals exclude self
        for index, actuals in enumerate(ctx.arg_types):
            required = needs[index + offset] if 0 <= index + offset < len(needs) else None
            if not required:
                continue
            for actual in actuals:
                missing = _missing(actual, required)
                if missing:
                    param = ctx.callee_arg_names[index] or f"#{index + 1}"
                    ctx.api.fail(
                        f'Argument "{param}" to "{callee}" needs relations loaded that are not: '
                        f"{', '.join(missing)}; load them with select_related()/prefetch_related() "
                        f"where the value is fetched, or annotate it with Loaded[...]",
                        ctx.context,
                        code=RELATION_NOT_LOADED,
                    )
        return ctx.default_return_type


def _enabled_in_config(options: Any) -> bool:
    """Whether the configuration enables ``relation-not-loaded`` globally or for some modules."""
    name = RELATION_NOT_LOADED.code
    if name in options.enable_error_code:
        return True
    return any(
        name in section.get("enable_error_code", ()) for section in options.per_module_options.values()
    )


def _tracking_option(config_file: str | None) -> bool:
    """``track_loaded = true`` in ``[mypy.plugins.django-strict-relations]`` (or pyproject's
    ``[tool.django-strict-relations]``): enables ``relation-not-loaded`` for the whole run."""
    if not config_file:
        return False
    if config_file.endswith(".toml"):
        import tomllib

        with open(config_file, "rb") as file:
            section = tomllib.load(file).get("tool", {}).get(CONFIG_SECTION, {})
        return section.get("track_loaded") is True
    import configparser

    parser = configparser.ConfigParser()
    parser.read(config_file)
    return parser.getboolean(f"mypy.plugins.{CONFIG_SECTION}", "track_loaded", fallback=False)


def add_r_method(ctx: ClassDefContext) -> None:
    """Give ``Model`` (hence every model) ``R(self, path, *, queryset=None, refresh=False)``."""
    any_type = AnyType(TypeOfAny.special_form)
    sym = ctx.api.lookup_fully_qualified_or_none(RELATION_LOAD)
    if sym is not None and isinstance(sym.node, TypeInfo):
        returns = Instance(sym.node, [any_type])
    else:
        # mypy cannot see the installed package (no py.typed found, or an install through an
        # import hook): awaiting R() is still typed, .sync() is not.
        sys.stderr.write(
            f"note: relations.stubs.mypy_plugin: mypy cannot find the module {TYPES_MODULE}, so R() "
            "is typed as a plain coroutine; install django-strict-relations where mypy looks "
            "(the mypy of the same environment) or add its directory to mypy_path\n"
        )
        returns = ctx.api.named_type("typing.Coroutine", [any_type, any_type, any_type])
    str_type = ctx.api.named_type("builtins.str")
    bool_type = ctx.api.named_type("builtins.bool")
    args = [
        Argument(Var("path", str_type), str_type, None, ARG_POS),
        Argument(Var("queryset", any_type), any_type, None, ARG_NAMED_OPT),
        Argument(Var("refresh", bool_type), bool_type, None, ARG_NAMED_OPT),
    ]
    add_method_to_class(ctx.api, ctx.cls, "R", args, returns)


def gfk_targets(field: Any) -> list[type[Model]]:
    """The models a generic foreign key may point at, when its content type FK limits them."""
    from django.apps import apps
    from django.db.models import Q

    try:
        ct_field = field.model._meta.get_field(field.ct_field)
    except Exception:
        return []
    limit = ct_field.remote_field.limit_choices_to
    if isinstance(limit, dict):
        limit = Q(**limit)
    if not isinstance(limit, Q):
        return []
    pairs = _q_models(limit)
    if not pairs:
        return []
    models = []
    for app_label, model_name in pairs:
        try:
            models.append(apps.get_model(app_label, model_name))
        except LookupError:
            return []
    return models


def _q_models(q: Any) -> list[tuple[str, str]] | None:
    """(app_label, model) pairs a ContentType ``Q`` admits; None unless it is that plain shape."""
    from django.db.models import Q

    if q.negated:
        return None
    if q.connector == Q.OR:
        pairs: list[tuple[str, str]] = []
        for child in q.children:
            inner = _q_models(child if isinstance(child, Q) else Q(child))
            if inner is None:
                return None
            pairs.extend(inner)
        return pairs
    values: dict[str, Any] = {}
    for child in q.children:
        if not isinstance(child, tuple):
            return None
        values[child[0]] = child[1]
    if set(values) == {"app_label", "model"}:
        return [(values["app_label"], values["model"])]
    if set(values) == {"app_label", "model__in"}:
        return [(values["app_label"], name) for name in values["model__in"]]
    return None


def _lookup_paths(expr: Expression) -> set[str]:
    """The relation paths a select_related/prefetch_related argument loads (``*`` if unknown)."""
    if isinstance(expr, StrExpr):
        return {expr.value}
    if isinstance(expr, NameExpr) and expr.fullname == "builtins.None":
        return set()  # select_related(None) clears; keeping marks errs towards no error
    if isinstance(expr, RefExpr) and isinstance(expr.node, Var):
        var = expr.node
        if isinstance(var.final_value, str):
            return {var.final_value}
        strings = _literal_strings(var.type) if var.type is not None else None
        if strings is not None:
            return set(strings)
    if (
        isinstance(expr, CallExpr)
        and isinstance(expr.callee, (NameExpr, MemberExpr))
        and expr.callee.name
        in (
            "Prefetch",
            "GenericPrefetch",
        )
    ):
        if "to_attr" in expr.arg_names:
            return set()  # the relation's own cache stays empty
        if expr.args and isinstance(expr.args[0], StrExpr):
            path = expr.args[0].value
            # A queryset= may select or prefetch further: anything below counts as loaded.
            return {path, f"{path}__{ANY_PATH}"} if len(expr.args) > 1 else {path}
    return {ANY_PATH}


@dataclass(frozen=True)
class PathShape:
    """What a relation path reaches, independent of mypy: the runtime half of path_type."""

    many: bool
    nullable: bool
    ends: tuple[type[Model], ...] | None  # None: Any (past a generic foreign key)
    back: str | None


@cache
def resolve_path(model: type[Model], path: str) -> PathShape | str:
    """The shape of ``R(model_instance, path)``, or the error message for a bad path."""
    from django.db.models import Model

    from relations.kinds import Kind, gfk_field

    hops = path.split("__")
    if not path or not all(hops):
        return f'"{path}" is not a relation path such as "author" or "author__publisher"'
    many = nullable = False
    current: type[Model] | None = model
    ends: tuple[type[Model], ...] | None = None
    last: RelationInfo | None = None
    for hop in hops:
        if current is None:  # after a generic foreign key the model depends on the data
            ends = None
            last = None
            continue
        info = _relations_of(current).get(hop)
        if info is None:
            return unknown_message(current, hop, path)
        many = many or info.many
        nullable = nullable or _nullable(info)
        current = info.target
        if info.kind is Kind.GENERIC_FOREIGN_KEY:
            ends = tuple(gfk_targets(gfk_field(info.descriptor))) or (Model,)
        else:
            assert current is not None
            ends = (current,)
        last = info
    back = _back_reference(last) if last is not None and current is not None else None
    return PathShape(many, nullable, ends, back)


def _nullable(info: RelationInfo) -> bool:
    from relations.kinds import Kind

    if info.kind in (Kind.REVERSE_ONE_TO_ONE, Kind.GENERIC_FOREIGN_KEY):
        return True
    if info.kind in (Kind.FORWARD_FOREIGN_KEY, Kind.FORWARD_ONE_TO_ONE, Kind.PARENT_LINK):
        return bool(info.descriptor.field.null)
    return False


def _back_reference(info: RelationInfo) -> str | None:
    """The relation the loader also fills on the objects it loads through ``info``."""
    from relations.kinds import Kind

    if info.kind is Kind.REVERSE_FOREIGN_KEY:
        return str(info.descriptor.rel.field.name)
    if info.kind is Kind.REVERSE_ONE_TO_ONE:
        return str(info.descriptor.related.field.name)
    if info.kind is Kind.FORWARD_ONE_TO_ONE:
        accessor = info.descriptor.field.remote_field.get_accessor_name()
        return str(accessor) if accessor else None
    return None


def _mark_value(typ: Type, paths: set[str]) -> Type:
    """Carry nested marks into a relation's value: the model, or a manager's model argument."""
    proper = get_proper_type(typ)
    if isinstance(proper, UnionType):
        return UnionType([_mark_value(item, paths) for item in proper.items], proper.line, proper.column)
    if not isinstance(proper, Instance):
        return typ
    if proper.type.has_base(MODEL):
        return with_markers(proper, paths)
    args = [
        with_markers(arg, paths) if isinstance(arg, Instance) and arg.type.has_base(MODEL) else a
        for a in proper.args
        for arg in [get_proper_type(a)]
    ]
    return proper.copy_modified(args=args)


def _attr_name(context: Any) -> str | None:
    return context.name if isinstance(context, MemberExpr) else None


def _callee_needs(callee: CallableType | None) -> list[set[str]] | None:
    """Per formal parameter, the loaded paths it requires; None if it requires none."""
    if callee is None:
        return None
    needs: list[set[str]] = []
    for arg in callee.arg_types:
        proper = get_proper_type(arg)
        needs.append(markers(proper) if isinstance(proper, Instance) else set())
    return needs if any(needs) else None


def _missing(actual: Type, required: set[str]) -> list[str]:
    proper: ProperType = get_proper_type(actual)
    if isinstance(proper, UnionType):
        return sorted({m for item in proper.items for m in _missing(item, required)})
    if not isinstance(proper, Instance) or not proper.type.has_base(MODEL):
        return []  # Any, None, ...: nothing to say
    have = markers(proper)
    # Only the leaves: prefixes of a required path are implied by it.
    leaves = {p for p in required if not any(o.startswith(p + "__") for o in required)}
    return sorted(p for p in leaves if not is_loaded(have, p))


def plugin(version: str) -> type[RelationsPlugin]:
    """mypy's entry point."""
    return RelationsPlugin
