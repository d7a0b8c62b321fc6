"""Policy: what happens when code reads a relation that is not loaded.

Descriptors ask ``unloaded(info, instance)`` and then either see an exception or
go on with Django's own lazy load.  The decision, in order:

1. Inside a running event loop nothing loads implicitly: ``RelationNotLoaded``
   (never Django's ``SynchronousOnlyOperation``), whatever the mode, unless
   ``DJANGO_ALLOW_ASYNC_UNSAFE`` is set, as Django itself allows.
2. Historical models in migrations (``RunPython``) load lazily.
3. The mode: ``with mode(...)``, else ``set_mode(...)``, else
   ``RELATIONS["SHELL_MODE"]`` in an interactive session (see ``interactive``),
   else ``RELATIONS["MODELS"][label]``, else ``RELATIONS["MODE"]``.
4. Django's own code paths (a framework package such as the admin, forms,
   serializers or the deletion collector is on the stack: see ``callsite``) load
   lazily unless ``RELATIONS["STRICT_FRAMEWORK"]`` is True.
5. Allow-listed reads (``RELATIONS["ALLOW_RELATIONS"]``/``["ALLOW_LOCATIONS"]``,
   ``with allow(...)``: see ``relations.report``) load silently.
6. Reads made while a model instance is displayed (``str``/``repr``/``format``:
   see ``display``) load and are added to the lazy-load report.
7. Reads by installed third-party packages (``packages``): the package's mode in
   ``RELATIONS["PACKAGES"]``, else a read on an instance with no live peers loads
   and is recorded; serialization frameworks and reads on peers go on to 8.
8. The mode's class decides: raise, warn then load, record then load, load, or
   raise for N+1 only; all but ``lazy`` add the read to the lazy-load report.

The message of the ``RelationNotLoaded`` suggests the fixes that fit where the read
was made (see ``where``).
"""

from __future__ import annotations

import asyncio
import os

from django.db.models import Model

from ..conf import config
from ..errors import not_loaded
from ..kinds import RelationInfo
from ..report import allowed, record
from .callsite import caller_frame, is_framework
from .display import displaying
from .interactive import interactive
from .modes import MODE_CLASSES, Mode
from .packages import package_mode
from .scope import chosen, mode, set_mode
from .where import read_context

__all__ = ["current_mode", "mode", "set_mode", "unloaded"]


def current_mode(model: type[Model]) -> Mode:
    """The mode in force for relations read on instances of ``model``."""
    name = chosen()
    if name is None:
        cfg = config()
        if cfg.shell_mode is not None and interactive():
            return MODE_CLASSES[cfg.shell_mode]
        name = cfg.models.get(model._meta.label_lower)
        concrete = model._meta.concrete_model
        if name is None and concrete is not None and concrete is not model:
            name = cfg.models.get(concrete._meta.label_lower)
        if name is None:
            name = cfg.mode
    return MODE_CLASSES[name]


def unloaded(info: RelationInfo, instance: Model) -> None:
    """Decide about reading ``info`` on ``instance`` while it is not loaded.

    Returns to let Django's descriptor load it; raises ``RelationNotLoaded`` otherwise
    (which the descriptor raises again from its own frame: see ``relations.descriptors.guard``).
    """
    model = type(instance)
    if asyncio._get_running_loop() is not None and not os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE"):
        reason = "inside a running event loop nothing loads implicitly"
        raise not_loaded(info, instance, reason, context=read_context(caller_frame()))
    if model.__module__ == "__fake__":  # a historical model inside a migration
        return
    policy = current_mode(model)
    scoped = chosen() is not None  # with mode() or set_mode(): RELATIONS["PACKAGES"] does not override it
    if policy.name == "lazy" and (scoped or not config().packages):
        return
    caller = caller_frame()
    if is_framework(caller) and not config().strict_framework:
        return
    if allowed(info, instance, caller):
        return
    if displaying():
        if policy.name != "lazy":
            record(info, instance, caller)
        return
    decided = package_mode(info, instance, caller, policy, scoped=scoped)
    if decided is not None:
        decided.handle(info, instance, caller)
