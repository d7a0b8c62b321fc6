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
``relations.pytest_plugin`` the pytest plugin; ``relations.checks`` the system checks.
"""

from .api import R, RelationLoad, aprefetch, prefetch
from .errors import RelationLazyLoadWarning, RelationNotLoaded, UnknownRelation
from .policy import mode
from .report import allow, report

__all__ = [
    "R",
    "RelationLazyLoadWarning",
    "RelationLoad",
    "RelationNotLoaded",
    "UnknownRelation",
    "allow",
    "aprefetch",
    "mode",
    "prefetch",
    "report",
]
