"""The public loading API: ``R()``, ``aprefetch()`` and ``prefetch()``.

Every call validates its arguments and resolves its relation names before any
query (bad input raises and changes nothing), then hands a loader to a driver.
"""

from __future__ import annotations

from collections.abc import Coroutine, Generator, Iterable
from typing import Any, TypeVar

from django.db.models import Model, Prefetch, QuerySet
from django.db.models.query import ModelIterable

from . import coalesce
from .conf import config
from .drivers import run_async, run_sync
from .loaders import resolve
from .loaders.paths import load_one, normalize_lookup, prefetch_loader
from .loaders.tasks import Loader
from .stubs._types import RelationLoad as TypedRelationLoad

T = TypeVar("T")


class RelationLoad(TypedRelationLoad[T]):
    """A pending relation load: ``await`` it in async code, or call ``.sync()``.

    Nothing runs until then.  It is a coroutine, so ``asyncio.create_task()`` and
    ``TaskGroup.create_task()`` take it as well as ``await`` and ``gather()`` do;
    each ``await`` runs the load anew (an already loaded relation costs no query).
    """

    __slots__ = ("_coroutine", "instance", "path", "queryset", "refresh")

    def __init__(self, instance: Model, path: str, queryset: Any, refresh: bool) -> None:
        self.instance = instance
        self.path = path
        self.queryset = queryset
        self.refresh = refresh
        self._coroutine: Coroutine[Any, Any, T] | None = None

    def loader(self) -> Loader[T]:
        """The sans-I/O loader behind this load (for drivers and tests)."""
        return load_one(self.instance, self.path, self.queryset, self.refresh, self._with_peers())

    def _with_peers(self) -> bool:
        # Peers share a plain load; a narrowed queryset or a refresh is this instance's own.
        return self.queryset is None and not self.refresh and config().peers

    async def _run(self) -> T:
        if self.queryset is None:  # only plain loads of the same relation can share a query
            value: T = await coalesce.load(self.instance, self.path, self.refresh, self._with_peers())
            return value
        return await run_async(self.loader())

    def __await__(self) -> Generator[Any, None, T]:
        return self._run().__await__()

    # The coroutine protocol, for event loops that drive it step by step.  The inner
    # coroutine exists only once a task drives it, so ``.sync()`` callers never
    # leave a "coroutine was never awaited" warning behind.
    def _driven(self) -> Coroutine[Any, Any, T]:
        if self._coroutine is None:
            self._coroutine = self._run()
        return self._coroutine

    def send(self, value: Any) -> Any:
        return self._driven().send(value)

    def throw(self, *args: Any) -> Any:
        return self._driven().throw(*args)

    def close(self) -> None:
        if self._coroutine is not None:
            self._coroutine.close()

    def sync(self) -> T:
        """Load in sync code, on Django's connection in this thread."""
        return run_sync(self.loader())

    def __repr__(self) -> str:
        return f"<RelationLoad {type(self.instance).__name__}.R({self.path!r})>"


def _check_queryset(queryset: Any, target: type[Model] | None, path: str) -> None:
    if queryset is None:
        return
    if isinstance(queryset, list):  # GenericPrefetch: one queryset per target model
        for qs in queryset:
            _check_queryset(qs, None, path)
        return
    if not isinstance(queryset, QuerySet):
        raise TypeError(f"queryset= must be a QuerySet, got {type(queryset).__name__}.")
    if queryset._iterable_class is not ModelIterable:
        raise ValueError("queryset= cannot be a values() or values_list() queryset.")
    if target is not None and (queryset.model._meta.concrete_model is not target._meta.concrete_model):
        raise ValueError(
            f'queryset= for "{path}" must be a queryset of {target.__name__}, '
            f"got one of {queryset.model.__name__}."
        )


def R(  # noqa: N802 - the public name is fixed
    instance: Model, path: str, *, queryset: QuerySet[Any] | None = None, refresh: bool = False
) -> RelationLoad[Any]:
    """Load the relation ``path`` of ``instance``, cache it, and return it.

    ``await book.R("author")`` (or ``await R(book, "author")``) gives the Author
    (None for a null foreign key or a missing reverse one-to-one); a to-many relation
    gives a list; a path such as ``"author__publisher"`` loads and caches every hop
    and gives what is at its end (a distinct list once any hop is to-many).
    ``.sync()`` instead of ``await`` runs the same loader in sync code.

    ``queryset=`` narrows the last hop like ``Prefetch(queryset=...)``;
    ``refresh=True`` reloads hops that are already loaded.  Unknown names raise
    ``UnknownRelation`` here, before any query.

    Concurrent ``await``s of ``R()`` for the same path and database, issued in
    the same event-loop iteration, share one query per hop; and an instance that
    came from a queryset loads the relation for its live peers from that queryset
    too (``RELATIONS["PEERS"]``, on by default; not with ``queryset=``/``refresh=``).
    """
    if not isinstance(instance, Model):
        raise TypeError(f"R() needs a model instance, got {type(instance).__name__}.")
    _check_queryset(queryset, resolve.check_path(type(instance), path)[-1], path)
    if not isinstance(refresh, bool):
        raise TypeError("refresh= must be True or False.")
    return RelationLoad(instance, path, queryset, refresh)


def _prepare(instances: Any, lookups: tuple[Any, ...]) -> Any:
    if isinstance(instances, QuerySet):
        models = {instances.model}
        source: Any = instances
    else:
        if isinstance(instances, (str, bytes)) or not isinstance(instances, Iterable):
            raise TypeError(
                f"aprefetch()/prefetch() need a list of model instances or a QuerySet, "
                f"got {type(instances).__name__}."
            )
        source = list(instances)
        wrong = [i for i in source if not isinstance(i, Model)]
        if wrong:
            raise TypeError(f"aprefetch()/prefetch() need model instances, got {type(wrong[0]).__name__}.")
        models = {type(i) for i in source}
    attrs: dict[tuple[type[Model], str], type[Model] | None] = {}
    setters: dict[tuple[type[Model], str], tuple[Any, str, Any]] = {}  # -> (lookup, path, queryset)
    for lookup in lookups:
        path, queryset, to_attr = normalize_lookup(lookup)
        for model in models:
            reached = resolve.check_path(model, path, attrs)
            _check_queryset(queryset, reached[-1], path)
            owner = reached[-2]
            if to_attr and owner is not None:
                _check_to_attr(owner, lookup, path, to_attr, queryset, setters)
                attrs[(owner, to_attr)] = reached[-1]
    return source


def _check_to_attr(
    model: type[Model],
    lookup: Any,
    path: str,
    to_attr: str,
    queryset: Any,
    setters: dict[tuple[type[Model], str], tuple[Any, str, Any]],
) -> None:
    # Checked before any query, so that a lookup that could only fail while writing
    # (Django raises there, after its queries) fails here and writes nothing.
    shown = f'Prefetch("{path}", to_attr="{to_attr}")'
    taken = _attribute_kind(model, to_attr)
    if taken is not None:
        raise ValueError(f"{shown} clashes with {model.__name__}.{to_attr}, {taken}: choose another to_attr.")
    earlier = setters.get((model, to_attr))
    if earlier is None:
        setters[(model, to_attr)] = (lookup, path, queryset)
    # The same lookup (reached from several models), or a repeat of the same plain
    # lookup (Django skips it), is harmless.
    elif earlier[0] is not lookup and not (earlier[1] == path and earlier[2] is None and queryset is None):
        raise ValueError(
            f'{shown} and Prefetch("{earlier[1]}", to_attr="{to_attr}") both set '
            f"{model.__name__}.{to_attr}: give each lookup its own to_attr."
        )


def _attribute_kind(model: type[Model], name: str) -> str | None:
    """What ``model.<name>`` already is, if a to_attr cannot be stored there."""
    info = resolve.relations_of(model).get(name)
    if info is not None:
        return f"a {info.kind.value}"
    for field in model._meta.concrete_fields:
        if name in (field.name, field.attname):
            return f"a field ({type(field).__name__})"
    attr = next((vars(k)[name] for k in model.__mro__ if name in vars(k)), None)
    if isinstance(attr, property) or hasattr(type(attr), "__set__"):
        return "a property" if isinstance(attr, property) else "a descriptor"
    return None


async def aprefetch(instances: Iterable[Model] | QuerySet[Any], *lookups: str | Prefetch[Any]) -> list[Model]:
    """Load ``lookups`` on all ``instances`` with one query per hop, in async code.

    Lookups are relation paths or ``Prefetch`` objects, as for ``prefetch_related``.
    Already loaded relations are skipped.  A QuerySet is evaluated first.  Returns
    the instances as a list.
    """
    source = _prepare(instances, lookups)
    return await run_async(prefetch_loader(source, lookups))


def prefetch(instances: Iterable[Model] | QuerySet[Any], *lookups: str | Prefetch[Any]) -> list[Model]:
    """The sync form of ``aprefetch()``: the same loader on the sync driver."""
    source = _prepare(instances, lookups)
    return run_sync(prefetch_loader(source, lookups))
