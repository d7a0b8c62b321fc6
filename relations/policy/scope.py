"""Overrides of the mode: ``with mode("lazy"): ...`` and ``set_mode("lazy")``.

``mode()`` is scoped: a ContextVar, so an override is private to the thread or
asyncio task that set it (and follows ``sync_to_async`` into its worker thread,
which copies the context).

``set_mode()`` is for sessions (a notebook, a shell, a script): it stays until it is
changed, for the whole thread that called it.  It is kept per thread rather than in
the context on purpose: Jupyter kernels run each cell in a context of its own in
several ipykernel versions, so a context variable set in one cell can be gone in the
next, while the thread (the kernel's main thread) stays.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable
from contextvars import ContextVar, Token
from types import TracebackType
from typing import Any, TypeVar

from ..conf import MODES

override: ContextVar[str | None] = ContextVar("relations_mode", default=None)

_F = TypeVar("_F", bound=Callable[..., Any])


class _Session(threading.local):
    name: str | None = None


_session = _Session()


def _checked(name: Any) -> str:
    if name not in MODES:
        raise ValueError(f"Unknown relations mode {name!r}; expected one of: {', '.join(MODES)}.")
    return str(name)


class ModeScope:
    """What ``mode(name)`` returns: a context manager and a decorator.

    Entering sets the override and exiting restores the previous one, so
    ``mode("lazy").__enter__()`` alone (without ``with``) also keeps the mode for the
    rest of the current context; ``set_mode()`` is the plain call for that.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._tokens: list[Token[str | None]] = []

    def __enter__(self) -> None:
        self._tokens.append(override.set(self.name))

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        override.reset(self._tokens.pop())

    def __call__(self, func: _F) -> _F:
        name = self.name
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with ModeScope(name):
                    return await func(*args, **kwargs)

            return run_async  # type: ignore[return-value]

        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            with ModeScope(name):
                return func(*args, **kwargs)

        return run  # type: ignore[return-value]


def mode(name: str) -> ModeScope:
    """Use mode ``name`` ("raise", "warn", "record", "lazy", "n_plus_one") inside a block.

    ``with mode("lazy"): ...`` takes precedence over ``set_mode()``, the shell mode,
    ``RELATIONS["MODELS"]`` and ``RELATIONS["MODE"]``, applies to the current thread
    or asyncio task only, and nests.  Also a decorator (``@mode("lazy")``, on sync
    and async functions).  An unknown name is a ValueError.
    """
    return ModeScope(_checked(name))


def set_mode(name: str | None) -> None:
    """Use mode ``name`` for the rest of this thread (a notebook, a shell session).

    ``set_mode("lazy")`` in a Jupyter cell holds in the next cells; ``set_mode(None)``
    goes back to the settings.  It takes precedence over the shell mode and the
    settings; ``with mode(...)`` still overrides it inside its block.  Other threads
    are not affected.  An unknown name is a ValueError and changes nothing.
    """
    _session.name = None if name is None else _checked(name)


def chosen() -> str | None:
    """The mode chosen in code (``with mode()``, else ``set_mode()``), if any."""
    return override.get() or _session.name
