"""Where a relation is read, as far as the message's fixes depend on it.

Inside an event loop the fixes are the async forms; elsewhere the sync ones.  A read
made while a template renders names the template line and, when the template is
rendered for a request, the view that handled it: that view's queryset is where
the fix goes.
"""

from __future__ import annotations

import asyncio
from types import FrameType

from ..errors import ReadContext
from ..report import display_path, user_location


def _view(frame: FrameType | None) -> str:
    """Dotted path of the view of the request whose template renders at ``frame``."""
    while frame is not None:
        if str(frame.f_globals.get("__name__", "")).startswith("django.template."):
            request = getattr(frame.f_locals.get("context"), "request", None)
            match = getattr(request, "resolver_match", None)
            if match is not None:
                return str(match._func_path)
        frame = frame.f_back
    return ""


def read_context(caller: FrameType | None) -> ReadContext:
    """The ReadContext of a read whose line to blame is ``caller`` (see ``callsite``)."""
    in_event_loop = asyncio._get_running_loop() is not None
    path, line, function = user_location(caller)
    if function != "<template>":
        return ReadContext(in_event_loop=in_event_loop)
    return ReadContext(in_event_loop=in_event_loop, template=(display_path(path), line), view=_view(caller))
