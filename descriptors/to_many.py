"""Strict descriptors for the to-many kinds: reverse FK and many-to-many managers.

The descriptor still returns its manager: Django's prefetch machinery calls
``get_queryset()`` on it, and building new queries (``.filter()``, ``async for``,
``.acount()``) is explicit and allowed.  What is guarded is evaluating the
relation's full, unprefetched set: the queryset that ``manager.all()`` returns
checks the policy when it is iterated, counted, tested or measured in sync code.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextvars import ContextVar
from functools import cached_property
from typing import Any

from django.db.models import Model, QuerySet
from django.db.models.fields.related_descriptors import (
    ManyToManyDescriptor,
    ReverseManyToOneDescriptor,
)

from relations.errors import RelationNotLoaded

from .guard import check

# Set while a manager method that already asked the policy runs Django's own code,
# so the queryset it evaluates does not ask (and warn) a second time.
_asked: ContextVar[bool] = ContextVar("relations_asked", default=False)


def _evaluation(name: str) -> Any:
    """A GuardedQuerySet method that asks the policy, then runs Django's method ``name``.

    It raises the policy's error from its own frame, the outermost frame of this
    library, hidden from pytest and Django's debug page (see ``guard``).  Django's
    ``__iter__``/``__len__``/``__bool__`` call ``_fetch_all()``, which must not ask
    (and warn) a second time.
    """

    def evaluate(self: GuardedQuerySet, *args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = __traceback_hide__ = True
        if (error := self._relations_error()) is not None:
            raise error
        token = _asked.set(True)
        try:
            return getattr(super(GuardedQuerySet, self), name)(*args, **kwargs)
        finally:
            _asked.reset(token)

    evaluate.__name__ = evaluate.__qualname__ = name
    return evaluate


class GuardedQuerySet:
    """Mixin for the manager's own queryset: sync evaluation asks the policy first.

    Any derived queryset (``filter``, ``order_by``, slicing...) is a plain one, and
    the async methods run on such a copy, since an awaited query is explicit.
    """

    _relations_base: type[QuerySet[Any]]
    _relations_guard: tuple[Any, Model]
    _result_cache: Any

    def _relations_error(self) -> RelationNotLoaded | None:
        if self._result_cache is None and not _asked.get():
            return check(*self._relations_guard)
        return None

    # Evaluating the full set asks the policy first (see _evaluation).
    __iter__ = _evaluation("__iter__")
    __len__ = _evaluation("__len__")
    __bool__ = _evaluation("__bool__")
    _fetch_all = _evaluation("_fetch_all")
    count = _evaluation("count")
    exists = _evaluation("exists")

    def iterator(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        __tracebackhide__ = __traceback_hide__ = True
        if self._result_cache is not None:  # loaded: iterating it costs nothing
            return iter(self._result_cache)
        if (error := self._relations_error()) is not None:
            raise error
        return super().iterator(*args, **kwargs)  # type: ignore[misc,no-any-return]

    def _plain(self) -> QuerySet[Any]:
        plain = self._relations_base.__new__(self._relations_base)
        plain.__dict__.update(self.__dict__)
        del plain.__dict__["_relations_guard"]
        return plain

    def _clone(self) -> QuerySet[Any]:
        clone = super()._clone()  # type: ignore[misc]
        clone.__class__ = self._relations_base
        return clone  # type: ignore[no-any-return]

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._plain().__aiter__()

    async def acount(self) -> int:
        return await self._plain().acount()

    async def aexists(self) -> bool:
        return await self._plain().aexists()

    def __reduce_ex__(self, protocol: Any) -> Any:
        # Pickling evaluates a queryset; pickle as Django's own (importable) class.
        __tracebackhide__ = __traceback_hide__ = True
        if (error := self._relations_error()) is not None:
            raise error
        plain = self._plain()
        return (_rebuild, (self._relations_base, plain.__getstate__()))


def _rebuild(cls: type[QuerySet[Any]], state: dict[str, Any]) -> QuerySet[Any]:
    """Unpickle a guarded queryset as an instance of Django's class."""
    queryset = cls.__new__(cls)
    queryset.__setstate__(state)  # type: ignore[attr-defined]
    return queryset


_queryset_classes: dict[type, type] = {}


def guard_queryset(queryset: QuerySet[Any], descriptor: Any, instance: Model) -> None:
    """Make ``queryset`` (fresh from a manager) ask the policy before it is evaluated."""
    base = type(queryset)
    guarded = _queryset_classes.get(base)
    if guarded is None:
        guarded = _queryset_classes[base] = type(
            base.__name__, (GuardedQuerySet, base), {"_relations_base": base, "__module__": base.__module__}
        )
    queryset.__class__ = guarded
    queryset._relations_guard = (descriptor, instance)  # type: ignore[attr-defined]


class GuardedManager:
    """Mixin for the related manager classes Django builds per relation."""

    # In a 1-tuple: a descriptor stored bare as a class attribute would bind to the manager.
    _relations_descriptor: tuple[Any]
    instance: Model

    def get_queryset(self) -> QuerySet[Any]:
        queryset = super().get_queryset()  # type: ignore[misc]
        # Not prefetched, and not Django's .none() for a NULL key (which runs no query);
        # _query, not query: reading .query would apply Django's deferred filter early.
        if queryset._result_cache is None and not queryset._query.is_empty():
            guard_queryset(queryset, self._relations_descriptor[0], self.instance)
        return queryset  # type: ignore[no-any-return]

    def _ask_then(self, method: str) -> Any:
        # Many-to-many managers count and test existence on the through table
        # without evaluating get_queryset(): ask the policy here for them.
        __tracebackhide__ = __traceback_hide__ = True
        queryset: Any = self.get_queryset()
        if (
            queryset._result_cache is None
            and not queryset._query.is_empty()
            and (error := check(self._relations_descriptor[0], self.instance)) is not None
        ):
            raise error
        token = _asked.set(True)
        try:
            return getattr(super(), method)()
        finally:
            _asked.reset(token)

    def count(self) -> int:
        __tracebackhide__ = __traceback_hide__ = True
        return int(self._ask_then("count"))

    def exists(self) -> bool:
        __tracebackhide__ = __traceback_hide__ = True
        return bool(self._ask_then("exists"))

    def __call__(self, *, manager: str) -> Any:
        # ``author.books(manager="objects")`` builds a new manager class in Django.
        other = super().__call__(manager=manager)  # type: ignore[misc]
        other.__class__ = guarded_manager_class(type(other), self._relations_descriptor[0])
        return other


def guarded_manager_class(manager_cls: type, descriptor: Any) -> type:
    """A subclass of Django's related manager class that guards its full set."""
    return type(
        manager_cls.__name__,
        (GuardedManager, manager_cls),
        {"_relations_descriptor": (descriptor,), "__module__": manager_cls.__module__},
    )


class ToManyGuard:
    """Mixin for the to-many descriptors: hand out guarded managers."""

    @cached_property
    def related_manager_cls(self) -> type:
        return guarded_manager_class(super().related_manager_cls, self)  # type: ignore[misc]


class StrictReverseManyToOneDescriptor(ToManyGuard, ReverseManyToOneDescriptor):  # type: ignore[type-arg]
    """``author.books``: the reverse side of a ForeignKey."""


class StrictManyToManyDescriptor(ToManyGuard, ManyToManyDescriptor):  # type: ignore[type-arg]
    """``book.tags`` and ``tag.books``: both sides of a ManyToManyField."""
