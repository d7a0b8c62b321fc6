"""Who is reading a relation: user code, or Django's own framework code?

The answer decides whether the default settings let a lazy load through (Django's
admin, forms, serializers and deletion collector must keep working) and names the
line to fix in warnings.  Only the slow path (a relation that is not loaded) walks
the stack, so loaded reads cost nothing here.
"""

from __future__ import annotations

import sys
from types import FrameType

# Frames between the user's expression and the descriptor: the ORM's own plumbing,
# lazy proxies (``request.user`` is a SimpleLazyObject) and this library.
_PLUMBING = (
    "relations",
    "descriptors",
    "django.db.models.query",
    "django.db.models.query_utils",
    "django.db.models.manager",
    "django.db.models.fields",
    "django.utils.functional",
    "asgiref",
)
# Django packages that run the user's code on the user's behalf: a template that
# reads ``book.author`` is the user's N+1, not Django's.
_USER_FACING = ("django.template", "django.templatetags")


def _within(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def caller_frame() -> FrameType | None:
    """The first frame outside the ORM plumbing and this library."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if not _within(module, _PLUMBING):
            return frame
        frame = frame.f_back
    return None


def is_framework(frame: FrameType | None) -> bool:
    """True when ``frame`` is Django's own code (admin, forms, serializers, ...)."""
    if frame is None:
        return False
    module = frame.f_globals.get("__name__", "")
    return _within(module, ("django",)) and not _within(module, _USER_FACING)
