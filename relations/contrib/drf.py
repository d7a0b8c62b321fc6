"""Django REST framework: generic views and viewsets that load what their serializer reads.

```python
from relations.contrib.drf import PlannedQuerysetMixin

class BookViewSet(PlannedQuerysetMixin, viewsets.ModelViewSet):
    queryset = Book.objects.order_by("pk")
    serializer_class = BookSerializer
    plan_lookups = ["reviews"]          # optional: what SerializerMethodFields read
```

``get_queryset()`` gets ``prefetch_related(*plan(get_serializer_class(), *plan_lookups))``,
so a list, a page or a retrieved object arrives with every relation the serializer
reads.  A created object is loaded the same way after ``perform_create()``; an
updated one after ``perform_update()`` (DRF's own ``update()`` empties the prefetch
cache of the instance there; here the plan reloads it instead, so the response
reads loaded relations, fresh from the database).
"""

from __future__ import annotations

from typing import Any

from rest_framework.response import Response  # type: ignore[import-untyped]

from .. import plans
from ..api import prefetch


class PlannedQuerysetMixin:
    """Put it before ``GenericAPIView`` (or a viewset) in the bases."""

    plan_lookups: tuple[Any, ...] | list[Any] = ()  # extra lookups, see relations.plan()

    def get_plan(self) -> plans.Plan:
        """The plan of this view's serializer class for this request."""
        view: Any = self
        return plans.plan(view.get_serializer_class(), *self.plan_lookups)

    def get_queryset(self) -> Any:
        queryset = super().get_queryset()  # type: ignore[misc]
        return queryset.prefetch_related(*self.get_plan())

    def perform_create(self, serializer: Any) -> None:
        super().perform_create(serializer)  # type: ignore[misc]
        prefetch([serializer.instance], *self.get_plan())

    def update(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        # DRF's UpdateModelMixin.update, reloading the plan where DRF empties the cache.
        view: Any = self
        partial = kwargs.pop("partial", False)
        instance = view.get_object()
        serializer = view.get_serializer(instance, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        view.perform_update(serializer)
        instance._prefetched_objects_cache = {}
        prefetch([instance], *self.get_plan())
        return Response(serializer.data)
