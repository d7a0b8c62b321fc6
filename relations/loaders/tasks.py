"""The vocabulary between loaders and drivers.

A loader is a generator: it yields a task, a driver runs it and sends back the
result, and the loader finally returns its value.  One task kind exists:
``Fetch``, "evaluate this QuerySet and send me its rows".  A QuerySet (rather than
SQL) travels so that every driver can compile it with Django's own compiler on the
database the QuerySet routes to, and turn rows into instances with Django's own
iterables.

The hot path of ``R()``, a to-one relation by key, yields ``Fetch.by_keys()``: the
QuerySet is built only when a driver asks for it, and the task names its *shape*
(relation, database, number of keys) so that a driver may reuse the SQL it
compiled for an earlier task of the same shape with these keys as parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Hashable
from typing import Any, TypeVar

from django.db.models import Field, QuerySet

T = TypeVar("T")


class Fetch:
    """Evaluate ``queryset``; the result sent back is the list of its rows.

    Loaders strip ``prefetch_related`` lookups before yielding (they load those
    themselves), so a driver runs exactly one SELECT per task.
    """

    __slots__ = ("_build", "_queryset", "key_field", "keys", "shape", "using")

    def __init__(self, queryset: QuerySet[Any]) -> None:
        self._queryset: QuerySet[Any] | None = queryset
        self._build: Callable[[], QuerySet[Any]] | None = None
        self.using: str = queryset.db
        self.shape: Hashable | None = None
        self.keys: tuple[Any, ...] = ()
        self.key_field: Field[Any, Any] | None = None

    @classmethod
    def by_keys(
        cls,
        build: Callable[[], QuerySet[Any]],
        using: str,
        shape: Hashable,
        keys: tuple[Any, ...],
        key_field: Field[Any, Any],
    ) -> Fetch:
        """Rows whose ``key_field`` is in ``keys``: ``build()`` gives the QuerySet.

        Its SQL depends on nothing but ``shape``; its parameters are ``keys``
        prepared by ``key_field``, in this order.
        """
        task = cls.__new__(cls)
        task._queryset, task._build = None, build
        task.using, task.shape, task.keys, task.key_field = using, shape, keys, key_field
        return task

    @property
    def queryset(self) -> QuerySet[Any]:
        """The QuerySet to evaluate (built on first use)."""
        if self._queryset is None:
            assert self._build is not None
            self._queryset = self._build()
        return self._queryset

    def __repr__(self) -> str:
        return f"<Fetch {self.queryset.model.__name__} on {self.using!r}>"


Task = Fetch
Loader = Generator[Task, list[Any], T]
