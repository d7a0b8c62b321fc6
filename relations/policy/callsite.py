"""Who is reading a relation: user code, or Django's own framework code?

The answer decides whether the default settings let a lazy load through, and names
the line to blame in warnings.  Only the slow path (a relation that is not loaded)
walks the stack, so loaded reads cost nothing here.

The rule: an access is a *framework access* when one of Django's framework packages
(the admin, auth, forms, serializers, the deletion collector, model methods such as
``refresh_from_db``/``delete``/``full_clean``, migrations) is running anywhere on the
stack.  That includes user code the framework calls, such as a ``__str__`` that the
admin renders or a ``clean()`` that a ModelForm runs, since such code is part of
what makes the framework work.  Request handling, views and the template engine are
not framework packages: a template or a view reading ``book.author`` is the user's
N+1.
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
FRAMEWORK = (
    "django.contrib.admin",
    "django.contrib.auth",
    "django.forms",
    "django.core.serializers",
    "django.db.models.base",
    "django.db.models.deletion",
    "django.db.migrations",
)


def _within(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def _module(frame: FrameType) -> str:
    return str(frame.f_globals.get("__name__", ""))


def caller_frame() -> FrameType | None:
    """The first frame outside the ORM plumbing and this library: the line to blame."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and _within(_module(frame), _PLUMBING):
        frame = frame.f_back
    return frame


def is_framework(frame: FrameType | None) -> bool:
    """True when a Django framework package is running at or above ``frame``."""
    while frame is not None:
        if _within(_module(frame), FRAMEWORK):
            return True
        frame = frame.f_back
    return False
