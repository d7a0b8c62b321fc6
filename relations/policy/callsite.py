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

Installed third-party packages (``reading_package``): the innermost frame that is
neither Django, this library nor the standard library is the *reader*.  When it
belongs to an installed distribution (not an editable install: the project's own
code stays the user's), the read is that package's (guardian's
``BaseObjectPermission.save``, mptt's tree maintenance, polymorphic's ``__str__``);
``relations.policy.packages`` decides what such a read may do.  A template of the
project rendered on the way (``{{ book.author }}`` in a template that a package's
view renders) keeps the read the user's.
"""

from __future__ import annotations

import os
import sys
from functools import cache, lru_cache
from importlib import metadata
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


@cache
def _package_roots() -> tuple[tuple[str, str], ...]:
    """(path prefix, top-level name) of installed, non-editable distributions (read once).

    A package directory gives ``".../site-packages/guardian/"``, a single-module
    distribution ``".../site-packages/six.py"``.  Editable installs are left out: they
    are the project's own code.
    """
    roots: dict[str, str] = {}
    for dist in metadata.distributions():
        direct_url = (dist.read_text("direct_url.json") or "").replace(" ", "").lower()
        if '"editable":true' in direct_url:
            continue
        tops = {t.strip() for t in (dist.read_text("top_level.txt") or "").splitlines() if t.strip()}
        if not tops:  # newer build backends write no top_level.txt: take it from RECORD
            for file in dist.files or ():
                first = file.parts[0] if file.parts else ""
                if len(file.parts) > 1 and first != ".." and "." not in first:
                    tops.add(first)
                elif len(file.parts) == 1 and first.endswith(".py"):
                    tops.add(first[:-3])
        for top in tops - _NOT_THIRD_PARTY:
            base = os.path.realpath(str(dist.locate_file(top)))
            if os.path.isdir(base):
                roots[base + os.sep] = top
            elif os.path.isfile(base + ".py"):
                roots[base + ".py"] = top
    return tuple(sorted(roots.items(), key=lambda item: -len(item[0])))


_NOT_THIRD_PARTY = frozenset({"django", "asgiref", "relations", "descriptors", "stubs"})


@lru_cache(maxsize=4096)
def file_package(filename: str) -> str | None:
    """The installed third-party package (top-level name) that ``filename`` is part of, or None."""
    if not os.path.isabs(filename):
        return None  # "<string>", "<stdin>", a notebook cell: the user's
    path = os.path.realpath(filename)
    return next((top for root, top in _package_roots() if path.startswith(root) or path == root), None)


def _skipped(frame: FrameType) -> bool:
    """Frames between a reader and the descriptor that read on its behalf."""
    module = _module(frame)
    return (
        _within(module, ("django", "asgiref"))
        or module.partition(".")[0] in sys.stdlib_module_names
        or _within(module, _PLUMBING)
    )


def reading_package(caller: FrameType | None) -> str | None:
    """The installed package whose code reads the relation (see module doc), or None for the user.

    ``caller`` is ``caller_frame()``.  Django, this library and the standard library
    are walked past; a template of the project being rendered on the way makes the
    read the user's.
    """
    frame = caller
    while frame is not None and _skipped(frame):
        if _module(frame) == "django.template.base" and isinstance(frame.f_locals.get("self"), Template):
            return None
        frame = frame.f_back
    return file_package(frame.f_code.co_filename) if frame is not None else None
