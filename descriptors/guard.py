"""The one call every strict descriptor makes when its relation is not loaded.

``check()`` returns the ``RelationNotLoaded`` to raise (or None) instead of raising
it, so that the descriptor raises it from its own frame, the outermost frame of this
library: the traceback then ends one frame below the user's line, and that frame
hides itself from pytest (``__tracebackhide__``) and from Django's debug page
(``__traceback_hide__``), whose "Exception Location" is then the user's line.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Model

from relations import policy
from relations.errors import RelationNotLoaded
from relations.kinds import attribute_name, relation_info
from relations.policy import serve


def check(descriptor: Any, instance: Model) -> RelationNotLoaded | None:
    """Ask the policy about reading ``descriptor`` on ``instance``: the error to raise, or None.

    None lets the read go ahead: served by the library's loaders first with
    ``RELATIONS["LAZY_LOADER"] = "relations"``, else by Django's own query.
    """
    info = relation_info(type(instance), attribute_name(descriptor), descriptor)
    assert info is not None, "only relation descriptors call check()"
    try:
        policy.unloaded(info, instance)
    except RelationNotLoaded as error:
        return error.with_traceback(None)  # the policy's frames are not the user's business
    serve.serve(info, instance)
    return None
