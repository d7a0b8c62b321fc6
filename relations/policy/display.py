"""Displaying a model instance never raises because of this library.

The rule, for ``str()``, ``repr()`` and ``format()`` (so ``print()``, f-strings,
``%s`` in log messages, the debug page, the admin) of every model instance: relations
read while the model's ``__str__``, ``__repr__`` or ``__format__`` runs load as Django
would, in sync code, whatever the mode, and are added to the lazy-load report
(``relations.report()``) unless the mode is ``lazy``.  Inside a running event loop
nothing can load, so a display that would need a query falls back to Django's own
form, ``Book object (1)`` (``<Book: Book object (1)>`` for ``repr()``; a format
spec is then ignored), instead of
raising: a log record is never lost to a ``RelationNotLoaded``.

Mechanism: each model class that defines (or inherits from a class other than
``Model``) one of these methods gets, in its own class dict, a thin wrapper that
marks the display in a context variable for the policy and catches
``RelationNotLoaded``.  Django's ``Model.__str__``/``__repr__`` read no relation and
are left alone.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from django.db.models import Model

from ..errors import RelationNotLoaded

_displaying: ContextVar[bool] = ContextVar("relations_displaying", default=False)


def displaying() -> bool:
    """True while a model instance's ``__str__``/``__repr__``/``__format__`` runs."""
    return _displaying.get()


def _plain_str(instance: Model) -> str:
    return Model.__str__(instance)


_FALLBACKS: dict[str, Callable[..., str]] = {
    "__str__": _plain_str,
    "__repr__": lambda instance: f"<{type(instance).__name__}: {_plain_str(instance)}>",
    "__format__": lambda instance, spec: _plain_str(instance),  # a custom spec may mean anything
}


class _Display:
    """A model's own ``__str__``/``__repr__``/``__format__``, run under the display rule.

    A descriptor rather than a closure: like a bound method it exposes the user's
    function as ``__func__`` (and ``__wrapped__``), so tools that read a model's
    methods (the lint, ``inspect``) still find the user's code.
    """

    _relations_display = True

    def __init__(self, func: Callable[..., str], fallback: Callable[..., str]) -> None:
        functools.update_wrapper(self, func)
        self.__func__ = func
        self._fallback = fallback

    def __get__(self, instance: Model | None, owner: type | None = None) -> Any:
        return self if instance is None else types.MethodType(self, instance)

    def __call__(self, instance: Model, *args: Any) -> str:
        token = _displaying.set(True)
        try:
            return self.__func__(instance, *args)
        except RelationNotLoaded:  # only raised inside an event loop (see module doc)
            return self._fallback(instance, *args)
        finally:
            _displaying.reset(token)


def install(model: type[Model]) -> None:
    """Wrap ``model``'s own display methods (idempotent; inherited wrappers are reused)."""
    if model.__module__ == "__fake__":  # historical models in migrations
        return
    for name, fallback in _FALLBACKS.items():
        method = getattr(model, name)
        if method is getattr(Model, name, None) or method is object.__format__:
            continue
        if getattr(method, "_relations_display", False):
            continue
        setattr(model, name, _Display(method, fallback))
