"""Scoped overrides of the mode: ``with mode("lazy"): ...``.

A ContextVar, so an override is private to the thread or asyncio task that set it
(and follows ``sync_to_async`` into its worker thread, which copies the context).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from ..conf import MODES

override: ContextVar[str | None] = ContextVar("relations_mode", default=None)


@contextmanager
def mode(name: str) -> Iterator[None]:
    """Use mode ``name`` ("raise", "warn", "lazy", "n_plus_one") inside the block.

    It takes precedence over ``RELATIONS["MODE"]`` and per-model modes, applies to
    the current thread or asyncio task only, and nests.  Also usable as a decorator
    on sync functions.
    """
    if name not in MODES:
        raise ValueError(f"Unknown relations mode {name!r}; expected one of: {', '.join(MODES)}.")
    token = override.set(name)
    try:
        yield
    finally:
        override.reset(token)
