"""Django-free typing names: what ``Model.R()`` returns and the ``Loaded[...]`` annotation.

The mypy plugin adds ``R`` to ``django.db.models.base.Model`` while mypy analyses
Django's own stubs, so the type it returns must live in a module that imports no
Django: this one.  At runtime nothing here touches Django either, so user code can
import ``Loaded`` anywhere (settings, type-only modules, before ``django.setup()``).
"""

from __future__ import annotations

from collections.abc import Coroutine, Generator
from typing import Annotated, Any, Generic, TypeVar

T = TypeVar("T")
_M = TypeVar("_M")
_L = TypeVar("_L")


class RelationLoad(Coroutine[Any, Any, T]):
    """The static type of ``obj.R(path)``: ``await`` it, or call ``.sync()``.

    The runtime object is ``relations.api.RelationLoad``; this class only gives mypy
    a Django-free name for it (the plugin declares ``Model.R`` with it).
    """

    __slots__ = ()

    def __await__(self) -> Generator[Any, None, T]:
        raise NotImplementedError

    def send(self, value: Any) -> Any:
        raise NotImplementedError

    def throw(self, *args: Any) -> Any:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def sync(self) -> T:
        """Load in sync code and return what ``await`` would give."""
        raise NotImplementedError


class LoadedRelations(Generic[_L]):
    """The marker inside ``Loaded[...]``; it carries the ``Literal`` of relation paths."""


Loaded = Annotated[_M, LoadedRelations[_L]]
"""``Loaded[Book, Literal["author", "tags"]]``: a Book whose ``author`` and ``tags`` are loaded.

Under mypy with ``relations.stubs.mypy_plugin`` the loaded set is part of the type: reading
those relations is allowed and call sites must pass such an instance (checked with
the opt-in error code ``relation-not-loaded``).  For every other checker, and at
runtime, it is just ``Book``.
"""
