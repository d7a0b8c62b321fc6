"""Who is reading a relation: user code, or Django's own framework code?

The answer decides whether the default settings let a lazy load through, and names
the line to blame in warnings.  Only the slow path (a relation that is not loaded)
walks the stack, so loaded reads cost nothing here.

The rule: an access is a *framework access* when one of Django's framework packages
(the admin, auth, forms, serializers, the deletion collector, model methods such as
``refresh_from_db``/``delete``/``full_clean``, migrations) is running anywhere on the
stack, or a template that ships with Django (the admin's, a form widget's) is being
rendered.  That includes user code the framework calls, such as a ``__str__`` that
the admin renders or a ``clean()`` that a ModelForm runs, since such code is part of
what makes the framework work.  Request handling, views, the user's own templates
and the decorators or mixins that merely wrap a view (``login_required``,
``LoginRequiredMixin``, ``staff_member_required``) are not: a view or template
reading ``book.author`` is the user's N+1.
"""

from __future__ import annotations

import os
import sys
from types import FrameType

import django
from django.template.base import Template

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

# Wrappers that stay on the stack for the whole of the user's view.
_TRANSPARENT = (
    "django.contrib.auth.decorators",
    "django.contrib.auth.mixins",
    "django.contrib.admin.views.decorators",
)
_DJANGO_DIR = os.path.dirname(django.__file__) + os.sep


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


def _renders_django_template(frame: FrameType) -> bool:
    template = frame.f_locals.get("self")
    if not isinstance(template, Template):
        return False
    name = getattr(template.origin, "name", None)
    return isinstance(name, str) and name.startswith(_DJANGO_DIR)


def is_framework(frame: FrameType | None) -> bool:
    """True when a Django framework package runs at or above ``frame`` (see module doc)."""
    while frame is not None:
        module = _module(frame)
        if _within(module, FRAMEWORK) and not _within(module, _TRANSPARENT):
            return True
        if module == "django.template.base" and _renders_django_template(frame):
            return True
        frame = frame.f_back
    return False
