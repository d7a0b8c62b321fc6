"""The one call every strict descriptor makes when its relation is not loaded."""

from __future__ import annotations

from typing import Any

from django.db.models import Model

from relations import policy
from relations.kinds import attribute_name, relation_info
from relations.policy import serve


def check(descriptor: Any, instance: Model) -> None:
    """Ask the policy about reading ``descriptor`` on ``instance``; raises or returns.

    When it returns, the read goes ahead: served by the library's loaders first
    with ``RELATIONS["LAZY_LOADER"] = "relations"``, else by Django's own query.
    """
    info = relation_info(type(instance), attribute_name(descriptor), descriptor)
    assert info is not None, "only relation descriptors call check()"
    policy.unloaded(info, instance)
    serve.serve(info, instance)
