"""Serving a lazy read with the library's loaders (``RELATIONS["LAZY_LOADER"] = "relations"``).

Once the policy has let an unloaded read through, ``serve()`` loads the relation
with the loader behind ``R()`` (peers per ``RELATIONS["PEERS"]``) into Django's own
cache; Django's descriptor then reads that cache, so what the read returns or
raises is what Django's own query would have given.  It steps aside, and Django's
descriptor runs its own query, wherever the loaders could differ:

* to-many reads: Django caches nothing for ``author.books.all()``, so anything the
  loaders filled could go stale after ``add()``, ``remove()``, ``set()``, ``clear()``
  or a write elsewhere;
* Django 6.1 fetch modes other than ``FETCH_ONE`` (``FETCH_PEERS`` fetches Django's
  own peers, ``FETCH_RAISE`` refuses the query);
* historical models inside migrations;
* a key value that cannot be hashed (a custom field's value class without
  ``__hash__``): the loaders match rows to instances by key, as Django's
  ``prefetch_related`` does, while Django's read needs no hashing.

A forward key whose row is missing raises the target's ``DoesNotExist`` and caches
nothing, as Django's ``QuerySet.get()`` does; deferred key columns are loaded
first by Django itself (``refresh_from_db``), as Django's read would.

Why ``"django"`` is still the default: served reads follow ``RELATIONS["PEERS"]``,
which is on by default, and a read that loads its peers changes what existing code
observes: fewer queries (``assertNumQueries`` counts), an N+1 loop that ``warn`` and
``record`` report once instead of once per read (the adoption report would lose its
counts), and a generic foreign key whose peers point at several content types runs
one query per type on the first read.  With peers off, Django's own suite is
identical; the default waits for a decision on peers for served reads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asgiref.sync import async_to_sync
from django.db import models
from django.db.models import Model

from ..conf import config
from ..drivers import run_async, run_sync
from ..kinds import Kind, RelationInfo
from ..loaders.paths import load_one
from ..loaders.tasks import Loader

FORWARD = frozenset({Kind.FORWARD_FOREIGN_KEY, Kind.FORWARD_ONE_TO_ONE, Kind.PARENT_LINK})
SERVED = FORWARD | {Kind.REVERSE_ONE_TO_ONE, Kind.GENERIC_FOREIGN_KEY}


def _through_thread_driver(loader: Loader[Any]) -> Any:
    return async_to_sync(run_async)(loader, "thread")


DRIVERS: dict[str, Callable[[Loader[Any]], Any]] = {"sync": run_sync, "thread": _through_thread_driver}
"""How a served read runs its loader: the sync driver, or the driver core's async
face on the thread driver (``async_to_sync``: the queries still run in this
thread, on its connection and inside its transaction)."""

_driver = ["sync"]


def use_driver(name: str) -> str:
    """Serve reads through ``DRIVERS[name]`` from now on; return the previous name.

    For tests and Django's suite runner: applications keep the sync driver.
    """
    if name not in DRIVERS:
        raise ValueError(f"Unknown driver {name!r}; expected one of: {', '.join(DRIVERS)}.")
    previous, _driver[0] = _driver[0], name
    return previous


_FETCH_ONE = getattr(models, "FETCH_ONE", None)  # Django 6.1's fetch modes; 5.2 has none


def _fetches_one(instance: Model) -> bool:
    return _FETCH_ONE is None or instance._state.fetch_mode is _FETCH_ONE


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def serve(info: RelationInfo, instance: Model) -> bool:
    """Load ``info`` on ``instance`` with the loaders if the setting asks for it.

    Called once the policy has let the read through.  Returns True when the
    loaders served it (Django's descriptor then finds it cached), False when
    Django's descriptor is left to run its own query.
    """
    if (
        config().lazy_loader != "relations"
        or info.kind not in SERVED
        or type(instance).__module__ == "__fake__"  # a historical model inside a migration
        or not _fetches_one(instance)
    ):
        return False
    field = info.descriptor.field if info.kind in FORWARD else None
    if field is not None:
        for local in field.local_related_fields:
            getattr(instance, local.attname)  # a deferred key column: Django refreshes it
        key = field.get_local_related_value(instance)
        if None in key:
            return False  # Django answers without a query
        if not _hashable(key):
            return False
    DRIVERS[_driver[0]](load_one(instance, info.name, with_peers=config().peers))
    if field is not None and field.get_cached_value(instance, None) is None:
        # No row for a non-null key: Django's get() raises and caches nothing.
        field.delete_cached_value(instance)
        target = field.remote_field.model
        raise target.DoesNotExist(f"{target._meta.object_name} matching query does not exist.")
    return True
