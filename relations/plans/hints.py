"""The fix line that names a plan, for a relation read inside a serializer or schema.

``errors.not_loaded_message`` calls ``plan_lines(info, instance)`` while it words a
``RelationNotLoaded``: when the read happens inside a DRF serializer, a django-ninja
schema or a pydantic ``model_validate`` whose plan would have loaded the relation,
the message says so and shows the one call that loads everything it reads.  Only
the stack is looked at (no framework is imported), and only while an error is
being worded.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

from django.db.models import Model

from ..kinds import RelationInfo


def plan_lines(info: RelationInfo, instance: Model) -> list[str]:
    """Fix lines naming the outermost serializer/schema on the stack whose plan loads
    ``info`` on ``instance``; no lines when the read is not inside one."""
    from . import plan

    readers = list(_readers(sys._getframe(1)))
    for reader, obj in reversed(readers):  # outermost first: its plan loads the whole tree
        model = type(obj) if isinstance(obj, Model) else None
        try:
            found = plan(reader, model=model)
        except Exception:  # wording an error must never raise another one
            continue
        if any(name == info.name and isinstance(instance, m) for m, name in found.reads):
            label = _label(reader)
            rows = found.model.__name__
            return [
                f"This read is inside {label}, whose plan loads it: load what {label} reads with",
                f"  .prefetch_related(*plan({label})) on the {rows} queryset, or "
                f"await aprefetch({rows.lower()}_list, *plan({label}))  (from relations import plan)",
            ]
    return []


def _readers(frame: Any) -> Iterator[tuple[Any, Any]]:
    """(serializer or schema, the object it reads) for each frame reading one, innermost first."""
    drf = sys.modules.get("rest_framework.serializers")
    ninja = sys.modules.get("ninja.schema")
    pydantic = sys.modules.get("pydantic")
    while frame is not None:
        local = frame.f_locals
        this = local.get("self")
        if drf is not None and isinstance(this, drf.Serializer) and "instance" in local:
            yield this, local["instance"]  # Serializer.to_representation(self, instance)
        elif ninja is not None and isinstance(this, ninja.DjangoGetter):
            yield this._schema_cls, this._obj
        elif pydantic is not None and frame.f_code.co_name == "model_validate":
            cls = local.get("cls")
            if isinstance(cls, type) and issubclass(cls, pydantic.BaseModel):
                yield cls, local.get("obj")
        frame = frame.f_back


def _label(reader: Any) -> str:
    return reader.__name__ if isinstance(reader, type) else type(reader).__name__
