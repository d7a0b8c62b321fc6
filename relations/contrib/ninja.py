"""django-ninja: endpoints whose returned objects arrive with what their schema reads.

```python
from relations.contrib.ninja import planned

@api.get("/books", response=list[BookOut])
@planned(BookOut)
async def books(request):
    return Book.objects.order_by("pk")[:50]     # a queryset, a list or one object
```

``@planned(Schema, *lookups)`` runs ``aprefetch(result, *plan(Schema, *lookups))``
on what the endpoint returns (``prefetch()`` for a sync endpoint), so ninja's
response validation reads loaded relations: no ``SynchronousOnlyOperation`` in an
async endpoint, no query per row in a sync one.  A queryset is evaluated there and
the endpoint's result becomes the list; a ``(status, body)`` tuple is planned on its
body; ``None``, a body that holds no model instance and a list of several models
are returned unchanged.  A plain ``Schema`` declares no model: the plan is made for
the model of the returned objects (or ``model=``).
``load(result, Schema)`` / ``aload(...)`` are the same without the decorator.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from django.db.models import Model, Prefetch, QuerySet

from .. import plans
from ..api import aprefetch, prefetch

F = TypeVar("F", bound=Callable[..., Any])


def planned(schema: Any, *lookups: str | Prefetch[Any], model: type[Model] | None = None) -> Callable[[F], F]:
    """Decorate an endpoint (async or sync) to load ``plan(schema, *lookups)`` on its result.

    The model is the schema's (``ModelSchema``), ``model=``, or else the returned
    objects' (a plain ``Schema`` declares none); a plan is made once per model.
    """
    plans_by_model = _Plans(schema, lookups, model)

    def decorate(view: F) -> F:
        if inspect.iscoroutinefunction(view):

            @functools.wraps(view)
            async def async_endpoint(*args: Any, **kwargs: Any) -> Any:
                return await _aload(await view(*args, **kwargs), plans_by_model)

            return async_endpoint  # type: ignore[return-value]

        @functools.wraps(view)
        def endpoint(*args: Any, **kwargs: Any) -> Any:
            return _load(view(*args, **kwargs), plans_by_model)

        return endpoint  # type: ignore[return-value]

    return decorate


async def aload(result: Any, schema: Any, *lookups: str | Prefetch[Any]) -> Any:
    """Load what ``schema`` reads on ``result`` (objects, a queryset, one object) in async code."""
    return await _aload(result, _Plans(schema, lookups, None))


def load(result: Any, schema: Any, *lookups: str | Prefetch[Any]) -> Any:
    """The sync form of ``aload()``."""
    return _load(result, _Plans(schema, lookups, None))


class _Plans:
    """The plans of one schema, by model; a bad schema or lookup fails when it is made."""

    def __init__(self, schema: Any, lookups: tuple[Any, ...], model: type[Model] | None) -> None:
        self.schema, self.lookups = schema, lookups
        self.declared = model or plans.schemas.model_of(plans.schemas.unwrap(schema))
        self.by_model: dict[type[Model], plans.Plan] = {}
        if self.declared is not None:
            self.of(self.declared)

    def of(self, model: type[Model]) -> plans.Plan:
        found = self.by_model.get(model)
        if found is None:
            found = self.by_model[model] = plans.plan(
                self.schema, *self.lookups, model=self.declared or model
            )
        return found


async def _aload(result: Any, plans_by_model: _Plans) -> Any:
    status, body = _split(result)
    objects = _objects(body)
    if objects is not None:
        loaded = await aprefetch(objects, *plans_by_model.of(_model(objects)))
        body = loaded if isinstance(body, QuerySet) else body
    return body if status is None else (status, body)


def _load(result: Any, plans_by_model: _Plans) -> Any:
    status, body = _split(result)
    objects = _objects(body)
    if objects is not None:
        loaded = prefetch(objects, *plans_by_model.of(_model(objects)))
        body = loaded if isinstance(body, QuerySet) else body
    return body if status is None else (status, body)


def _model(objects: Any) -> type[Model]:
    return objects.model if isinstance(objects, QuerySet) else type(objects[0])


def _split(result: Any) -> tuple[int | None, Any]:
    # ninja's (status, body) responses
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], int):
        return result[0], result[1]
    return None, result


def _objects(body: Any) -> Any:
    """What to load on: the instances (or the queryset) in ``body``, or None."""
    if isinstance(body, Model):
        return [body]
    if isinstance(body, QuerySet):
        return body
    if isinstance(body, (list, tuple)) and body and all(type(item) is type(body[0]) for item in body):
        return list(body) if isinstance(body[0], Model) else None
    return None
