"""The vocabulary between loaders and drivers.

A loader is a generator: it yields a task, a driver runs it and sends back the
result, and the loader finally returns its value.  One task kind exists today:
``Fetch``, "evaluate this QuerySet and send me its rows".  A QuerySet (rather than
SQL) travels so that every driver can compile it with Django's own compiler on the
database the QuerySet routes to, and turn rows into instances with Django's own
iterables.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db.models import QuerySet

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Fetch:
    """Evaluate ``queryset``; the result sent back is the list of its rows.

    Loaders strip ``prefetch_related`` lookups before yielding (they load those
    themselves), so a driver runs exactly one SELECT per task.
    """

    queryset: QuerySet[Any]

    @property
    def using(self) -> str:
        """The database alias the query runs on (after routers)."""
        return self.queryset.db


Task = Fetch
Loader = Generator[Task, list[Any], T]
