"""django-strict-relations: Django relations that are explicit and async-ready.

```python
from relations import R, aprefetch, prefetch, mode, RelationNotLoaded, UnknownRelation

book.author                          # RelationNotLoaded unless loaded
author = await book.R("author")      # load, cache, return
await aprefetch(books, "author", "tags")
relations.report()                   # lazy-load sites seen in "warn"/"record" (and blocked ones)
with allow("shop.Book.author"): ...  # accept these lazy loads in a block
```

``python -m relations lint PATH...`` is the static lint (``relations.lint``);
``relations.pytest_plugin`` the pytest plugin; ``relations.checks`` the system checks;
``relations.stubs.mypy_plugin`` the mypy plugin.

Everything the package installs lives under the ``relations`` name: the strict
descriptors are ``relations.descriptors`` and the typing support ``relations.stubs``
(the repository keeps their sources in its top-level ``descriptors/`` and ``stubs/``
folders), so a project's own ``stubs`` package or ``descriptors.py`` never collides.

The names below are imported on first use: importing ``relations`` alone (as the mypy
plugin does, before Django is configured) imports nothing of Django.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .api import R, RelationLoad, aprefetch, prefetch
    from .errors import RelationLazyLoadWarning, RelationNotLoaded, UnknownRelation
    from .plans import plan
    from .policy import mode, set_mode
    from .report import allow, report

# Public name -> the module that defines it.
_EXPORTS = {
    "R": ".api",
    "RelationLoad": ".api",
    "aprefetch": ".api",
    "prefetch": ".api",
    "RelationLazyLoadWarning": ".errors",
    "RelationNotLoaded": ".errors",
    "UnknownRelation": ".errors",
    "plan": ".plans",
    "mode": ".policy",
    "set_mode": ".policy",
    "allow": ".report",
    "report": ".report",
}

__all__ = [
    "R",
    "RelationLazyLoadWarning",
    "RelationLoad",
    "RelationNotLoaded",
    "UnknownRelation",
    "allow",
    "aprefetch",
    "mode",
    "plan",
    "prefetch",
    "report",
    "set_mode",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'relations' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # later reads skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
