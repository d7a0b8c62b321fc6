"""Reads made by installed third-party packages: their bookkeeping loads, N+1s do not.

A project cannot change the code of the packages it installs, so a strict mode must
not make them unusable: django-guardian's ``assign_perm()`` saves an object
permission that reads ``self.permission.content_type``; django-mptt's tree
maintenance reads ``node.parent`` of the node it inserts or moves; django-polymorphic's
``ShowFieldContent.__str__`` counts a related set.  Each is one query about one
instance, where Django would run it too, and no ``select_related`` of the user's
would help.  The rule (``reading_package()`` in ``callsite`` says who reads):

* a read by an installed package on an instance with **no live peers** (it did not
  come from a multi-row result together with other instances still alive) is one
  query, not an N+1: it **loads**, and the read is recorded in the lazy-load report
  with the package named, so nothing is hidden;
* a read by a package on **one of many peers** is an N+1 (the user's loop calls the
  package for every row) and **follows the mode**;
* the **serialization frameworks** (DRF, adrf, django-ninja, pydantic, strawberry,
  graphene-django) read what the user declared (the fields of a serializer or
  schema): their reads are the user's data shape and always **follow the mode**;
* ``RELATIONS["PACKAGES"]`` overrides this per top-level package with a mode:
  ``{"guardian": "lazy"}`` loads every read of guardian, silently, like
  ``RELATIONS["MODELS"]`` does for a model; ``{"mptt": "raise"}`` blocks even its
  single-instance reads.  A ``with mode(...)`` block still wins over it.
"""

from __future__ import annotations

from types import FrameType

from django.db.models import Model

from .. import peers
from ..conf import config
from ..kinds import RelationInfo
from ..report import record
from .callsite import reading_package
from .modes import MODE_CLASSES, Mode

SERIALIZERS = frozenset(
    {
        "rest_framework",
        "adrf",
        "ninja",
        "pydantic",
        "pydantic_core",
        "strawberry",
        "strawberry_django",
        "graphene",
        "graphene_django",
    }
)


def package_mode(
    info: RelationInfo, instance: Model, caller: FrameType | None, policy: Mode, *, scoped: bool
) -> Mode | None:
    """The mode that decides this read, given who reads it; None when it loads here.

    ``policy`` is the mode in force for the model; ``scoped``: it comes from a
    ``with mode(...)`` block, which ``RELATIONS["PACKAGES"]`` does not override.
    """
    package = reading_package(caller)
    if package is None:
        return policy
    configured = None if scoped else config().packages.get(package)
    if configured is not None:
        return MODE_CLASSES[configured]
    if package in SERIALIZERS or _has_live_peers(instance):
        return policy
    if policy.name != "lazy":
        record(info, instance, caller)  # loads, but stays in the report, naming the package
    return None


def _has_live_peers(instance: Model) -> bool:
    group = peers.group_of(instance)
    return group is not None and len(group.live()) > 1
