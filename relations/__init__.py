"""django-strict-relations: Django relations that are explicit and async-ready.

```python
from relations import R, aprefetch, prefetch, mode, RelationNotLoaded, UnknownRelation

book.author                          # RelationNotLoaded unless loaded
author = await book.R("author")      # load, cache, return
await aprefetch(books, "author", "tags")
```
"""

from .api import R, RelationLoad, aprefetch, prefetch
from .errors import RelationLazyLoadWarning, RelationNotLoaded, UnknownRelation
from .policy import mode

__all__ = [
    "R",
    "RelationLazyLoadWarning",
    "RelationLoad",
    "RelationNotLoaded",
    "UnknownRelation",
    "aprefetch",
    "mode",
    "prefetch",
]
