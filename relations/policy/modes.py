"""One small class per mode: what to do when a relation that is not loaded is read.

Each ``handle()`` either raises ``RelationNotLoaded`` or returns, which lets
Django's own descriptor run its query (in sync code only: inside an event loop the
policy raises before any mode is asked).  ``raise``, ``warn``, ``record`` and a
blocking ``n_plus_one`` add the read to the lazy-load report (``relations.report``).
"""

from __future__ import annotations

import logging
import warnings
from types import FrameType

from django.db.models import Model

from .. import peers
from ..errors import RelationLazyLoadWarning, describe_instance, not_loaded, not_loaded_message
from ..kinds import RelationInfo
from ..report import record
from .where import read_context

logger = logging.getLogger("relations")


class Mode:
    """Base class of the modes; ``name`` is the value used in settings."""

    name = ""

    def handle(self, info: RelationInfo, instance: Model, caller: FrameType | None) -> None:
        raise NotImplementedError


class Raise(Mode):
    """Never load implicitly."""

    name = "raise"

    def handle(self, info: RelationInfo, instance: Model, caller: FrameType | None) -> None:
        error = not_loaded(info, instance, 'RELATIONS mode "raise"', context=read_context(caller))
        record(info, instance, caller, blocked=True, message=str(error))
        raise error


class Lazy(Mode):
    """Django's behaviour: load with a query (respecting Django 6.1 fetch modes)."""

    name = "lazy"

    def handle(self, info: RelationInfo, instance: Model, caller: FrameType | None) -> None:
        return None


class Warn(Mode):
    """Load like Django, but emit a RelationLazyLoadWarning and a log record first."""

    name = "warn"

    def handle(self, info: RelationInfo, instance: Model, caller: FrameType | None) -> None:
        record(info, instance, caller)
        message = not_loaded_message(
            info,
            instance,
            'RELATIONS mode "warn" lets it run, with this warning',
            blocked=False,
            context=read_context(caller),
        )
        where = f"{caller.f_code.co_filename}:{caller.f_lineno}" if caller else "unknown"
        logger.warning(
            "Lazy load of %s.%s on %s at %s",
            type(instance).__name__,
            info.name,
            describe_instance(instance),
            where,
            extra={"relation": f"{type(instance)._meta.label}.{info.name}", "location": where},
        )
        if caller is None:
            warnings.warn(message, RelationLazyLoadWarning, stacklevel=2)
            return
        # Point the warning at the user's line, not at this library.
        warnings.warn_explicit(
            message,
            RelationLazyLoadWarning,
            caller.f_code.co_filename,
            caller.f_lineno,
            module=caller.f_globals.get("__name__"),
            registry=caller.f_globals.setdefault("__warningregistry__", {}),
        )


class NPlusOne(Mode):
    """Raise only for instances fetched together with others (the N of N+1)."""

    name = "n_plus_one"

    def handle(self, info: RelationInfo, instance: Model, caller: FrameType | None) -> None:
        if peers.fetched_with_others(instance):
            error = not_loaded(
                info,
                instance,
                'RELATIONS mode "n_plus_one": this instance came from a multi-row result',
                context=read_context(caller),
            )
            record(info, instance, caller, blocked=True, message=str(error))
            raise error


class Record(Mode):
    """Load like Django, silently, and add the read to the lazy-load report."""

    name = "record"

    def handle(self, info: RelationInfo, instance: Model, caller: FrameType | None) -> None:
        record(info, instance, caller)


MODE_CLASSES: dict[str, Mode] = {m.name: m for m in (Raise(), Lazy(), Warn(), NPlusOne(), Record())}
