"""adrf (async Django REST framework): async generic views that load what their
serializer reads, with ``aprefetch()``.

```python
from adrf import generics
from relations.contrib.adrf import APlannedMixin

class BookList(APlannedMixin, generics.ListAPIView):
    queryset = Book.objects.order_by("pk")
    serializer_class = BookSerializer     # an adrf or a DRF serializer
```

The list (or the page of it) and the object of a retrieve, update or destroy get
``await aprefetch(objects, *plan(get_serializer_class(), *plan_lookups))`` before
the serializer reads them: one query per relation path, on the library's async
drivers.  A created object is loaded the same way after it is saved; an updated one too
(adrf's own ``aupdate()`` empties its prefetch cache there; here the plan reloads it).
"""

from __future__ import annotations

from typing import Any

from adrf.mixins import get_data  # type: ignore[import-untyped]
from asgiref.sync import sync_to_async
from rest_framework import status  # type: ignore[import-untyped]
from rest_framework.response import Response  # type: ignore[import-untyped]

from .. import plans
from ..api import aprefetch


class APlannedMixin:
    """Put it before adrf's ``GenericAPIView`` (or a view built on it) in the bases."""

    plan_lookups: tuple[Any, ...] | list[Any] = ()  # extra lookups, see relations.plan()

    def get_plan(self) -> plans.Plan:
        """The plan of this view's serializer class for this request."""
        view: Any = self
        return plans.plan(view.get_serializer_class(), *self.plan_lookups)

    async def aget_object(self) -> Any:
        instance = await super().aget_object()  # type: ignore[misc]
        await aprefetch([instance], *self.get_plan())
        return instance

    async def alist(self, *args: Any, **kwargs: Any) -> Response:
        # adrf's ListModelMixin.alist, with the page (or the whole list) planned.
        view: Any = self
        queryset = await view.afilter_queryset(view.get_queryset())
        page = await view.apaginate_queryset(queryset)
        objects = await aprefetch(queryset if page is None else page, *self.get_plan())
        data = await get_data(view.get_serializer(objects, many=True))
        if page is not None:
            return await view.get_apaginated_response(data)
        return Response(data, status=status.HTTP_200_OK)

    async def perform_acreate(self, serializer: Any) -> None:
        await super().perform_acreate(serializer)  # type: ignore[misc]
        await aprefetch([serializer.instance], *self.get_plan())

    async def aupdate(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        # adrf's UpdateModelMixin.aupdate, reloading the plan where adrf empties the cache.
        view: Any = self
        partial = kwargs.pop("partial", False)
        instance = await view.aget_object()
        serializer = view.get_serializer(instance, data=request.data, partial=partial)
        await sync_to_async(serializer.is_valid)(raise_exception=True)
        await view.perform_aupdate(serializer)
        instance._prefetched_objects_cache = {}
        await aprefetch([instance], *self.get_plan())
        return Response(await get_data(serializer), status=status.HTTP_200_OK)
