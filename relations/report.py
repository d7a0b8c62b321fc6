"""The lazy-load report: every place where code read a relation that was not loaded.

In the ``warn`` and ``record`` modes each such read runs Django's query and is
recorded here; in ``raise`` and ``n_plus_one`` the read is blocked and recorded
too (``blocked``).  A *site* is one relation read at one line of code::

    >>> import relations
    >>> for site in relations.report():
    ...     print(site.relation, site.location, site.count, site.n_plus_one)
    shop.Book.author shop/views.py:42 20 True

* ``location`` is the user's code: the first frame outside Django and this
  library (or the template line, when a template reads the relation).
* ``package`` names the installed third-party package whose code read the
  relation (then ``location`` is that package's line; see
  ``relations.policy.packages``), "" for the project's own code.  A package's
  single-instance reads load and are recorded here; the table ends with a line per
  package whose reads were blocked, with the ``RELATIONS["PACKAGES"]`` switch.
* ``count`` is how many times the site read an unloaded relation (each one a query
  in ``warn``/``record``).
* ``n_plus_one`` is True when the site read the relation on several instances of
  one query result: the N of an N+1, fixed by ``select_related``/``prefetch_related``
  on that query or by ``prefetch()``/``aprefetch()`` on the list.  A blocked read
  stops the loop at its first item, so there it means "an instance of a multi-row
  result", the N+1 that the loop would have run.

Nothing is recorded for loaded relations: recording happens only on the slow path
that already decided to query or to raise.  Not recorded either: the ``lazy`` mode,
Django's own framework accesses (see ``relations.policy.callsite``), and reads
inside a running event loop (they raise before any mode is asked).  Reads that are allow-listed
(``RELATIONS["ALLOW_RELATIONS"]``/``["ALLOW_LOCATIONS"]``, ``with allow(...)``) load
silently and are not recorded.  The report is process-wide and thread-safe;
``capture()`` collects the sites of one block of code (the current thread or
asyncio task, and ``sync_to_async`` calls it makes) separately.  With
``RELATIONS["REPORT_AT_EXIT"] = True`` the report is logged (logger
``relations``) when the process exits.

``relations.report`` (the package attribute) is the ``report()`` function; the
other names of this module are imported with ``from relations.report import ...``.
"""

from __future__ import annotations

import atexit
import fnmatch
import json
import logging
import os
import re
import sys
import threading
import types
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass, replace
from functools import lru_cache
from types import FrameType
from typing import TYPE_CHECKING, Any

from . import peers
from .conf import config, parse_location_pattern, parse_relation_pattern

if TYPE_CHECKING:
    from django.db.models import Model

    from .kinds import RelationInfo

__all__ = [
    "Recorder",
    "Report",
    "Site",
    "allow",
    "allowed",
    "capture",
    "record",
    "report",
    "reset",
    "user_location",
]

logger = logging.getLogger("relations")

MAX_SITES = 10_000
"""A recorder keeps at most this many distinct sites (later ones are counted as dropped)."""

_DJANGO = ("django", "asgiref")


# --------------------------------------------------------------------------
# Where: the user's line


def _module(frame: FrameType) -> str:
    return str(frame.f_globals.get("__name__", ""))


def _is_django(frame: FrameType) -> bool:
    module = _module(frame)
    return any(module == p or module.startswith(p + ".") for p in _DJANGO)


def _template_line(frame: FrameType) -> tuple[str, int] | None:
    """A template node being rendered in ``frame``: (template path, line)."""
    node = frame.f_locals.get("self")
    token = getattr(node, "token", None)
    origin = getattr(node, "origin", None)
    name = getattr(origin, "name", None)
    lineno = getattr(token, "lineno", None)
    if isinstance(name, str) and isinstance(lineno, int):
        return name, lineno
    return None


def user_location(frame: FrameType | None) -> tuple[str, int, str]:
    """(path, line, function) of the code to blame for a read seen at ``frame``.

    ``frame`` is the policy's caller frame (already past the ORM plumbing and this
    library); this walks on past Django itself, so a relation read by a template,
    a paginator or a serializer called from a view blames the template line or the
    view.  ("unknown", 0, "") when there is no such frame.
    """
    template: tuple[str, int] | None = None
    while frame is not None and _is_django(frame):
        if template is None and _module(frame) == "django.template.base":
            template = _template_line(frame)
        frame = frame.f_back
    if template is not None:
        return template[0], template[1], "<template>"
    if frame is None:
        return "unknown", 0, ""
    return frame.f_code.co_filename, frame.f_lineno, _function_name(frame)


def _function_name(frame: FrameType) -> str:
    """'Class.method' of the frame; a comprehension or lambda gives its function's name."""
    parts = frame.f_code.co_qualname.split(".")
    while len(parts) > 1 and parts[-1].startswith("<"):
        parts.pop()
    return ".".join(parts)


def display_path(path: str) -> str:
    """``path`` relative to the current directory when it is inside it."""
    if not os.path.isabs(path):
        return path
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return path
    return path if rel.startswith("..") else rel


# --------------------------------------------------------------------------
# Allow-lists


@lru_cache(maxsize=512)
def _glob(pattern: str) -> re.Pattern[str]:
    return re.compile(fnmatch.translate(pattern), re.IGNORECASE if os.name == "nt" else 0)


def relation_allowed(patterns: Iterable[str], labels: tuple[str, ...]) -> bool:
    """Does a lower-case ``app_label.modelname.relation`` label match an allow-list pattern?"""
    return any(_glob(p).match(label) for p in patterns for label in labels)


def location_allowed(patterns: Iterable[tuple[str, int | None]], path: str, line: int) -> bool:
    """Does ``path:line`` match an allow-list ``(glob, line or None)``?"""
    path = path.replace("\\", "/")
    for glob, wanted in patterns:
        if wanted is not None and wanted != line:
            continue
        if _glob(glob).match(path):
            return True
        if not glob.startswith(("/", "*")) and _glob("*/" + glob).match(path):
            return True
    return False


@dataclass(frozen=True)
class _Allowance:
    relations: tuple[str, ...]
    locations: tuple[tuple[str, int | None], ...]


_allowances: ContextVar[tuple[_Allowance, ...]] = ContextVar("relations_allow", default=())


@contextmanager
def allow(*relations: str, locations: Iterable[str] = ()) -> Iterator[None]:
    """Accept the lazy loads of these relations (or from these locations) in the block.

    ``relations``: ``"app_label.ModelName.relation"`` patterns (wildcards allowed);
    ``locations``: path globs of the reading code, optionally with ``:line``.  An
    allowed read loads silently in every mode and is not recorded, exactly like the
    ``RELATIONS["ALLOW_RELATIONS"]``/``["ALLOW_LOCATIONS"]`` settings.  Scoped like
    ``mode()``: the current thread or asyncio task only; nests.
    """
    try:
        allowance = _Allowance(
            relations=tuple(parse_relation_pattern(r, "allow()") for r in relations),
            locations=tuple(parse_location_pattern(p, "allow(locations=...)") for p in locations),
        )
    except Exception as exc:  # ImproperlyConfigured: the wording fits a ValueError here
        raise ValueError(str(exc)) from None
    if not allowance.relations and not allowance.locations:
        raise ValueError("allow() needs at least one relation pattern or location.")
    token = _allowances.set((*_allowances.get(), allowance))
    try:
        yield
    finally:
        _allowances.reset(token)


def _labels(info: RelationInfo, instance: Model) -> tuple[str, ...]:
    model = type(instance)
    labels = [f"{model._meta.label_lower}.{info.name.lower()}"]
    concrete = model._meta.concrete_model
    if concrete is not None and concrete is not model:
        labels.append(f"{concrete._meta.label_lower}.{info.name.lower()}")
    return tuple(labels)


def allowed(info: RelationInfo, instance: Model, caller: FrameType | None) -> bool:
    """Is reading ``info`` on ``instance`` from ``caller`` allow-listed?"""
    cfg = config()
    scoped = _allowances.get()
    if not (cfg.allow_relations or cfg.allow_locations or scoped):
        return False
    labels = _labels(info, instance)
    if relation_allowed(cfg.allow_relations, labels):
        return True
    if any(relation_allowed(a.relations, labels) for a in scoped):
        return True
    if not cfg.allow_locations and not any(a.locations for a in scoped):
        return False
    path, line, _ = user_location(caller)
    if location_allowed(cfg.allow_locations, path, line):
        return True
    return any(location_allowed(a.locations, path, line) for a in scoped)


# --------------------------------------------------------------------------
# What: sites


@dataclass(frozen=True)
class Site:
    """One relation read at one line of code, with what happened there."""

    relation: str  # "shop.Book.author"
    path: str  # absolute path of the file (or template)
    line: int
    function: str  # "<template>" for a template
    kind: str  # "forward foreign key", ...
    fix: str  # 'select_related("author")'
    count: int  # unloaded reads at this site
    blocked: int  # of which raised RelationNotLoaded (modes raise and n_plus_one)
    n_plus_one: bool  # several instances of one query result read it here (or would have)
    message: str  # the message of the first blocked read ("" if none)
    package: str = ""  # the installed package whose code read it ("" for the project's code)

    @property
    def location(self) -> str:
        """``path:line``, the path relative to the current directory when inside it."""
        return f"{display_path(self.path)}:{self.line}"

    @property
    def loaded(self) -> int:
        """Reads that ran their query (``warn``/``record``)."""
        return self.count - self.blocked

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["location"] = self.location
        return data


class Report(tuple[Site, ...]):
    """The recorded sites, most frequent first; a tuple of ``Site``."""

    dropped: int = 0

    def __new__(cls, sites: Iterable[Site] = (), dropped: int = 0) -> Report:
        ordered = sorted(sites, key=lambda s: (-s.count, s.relation, s.path, s.line))
        self = super().__new__(cls, ordered)
        self.dropped = dropped
        return self

    @property
    def n_plus_one(self) -> tuple[Site, ...]:
        """The sites that are N+1s."""
        return tuple(s for s in self if s.n_plus_one)

    @property
    def total(self) -> int:
        """All unloaded reads, every site together."""
        return sum(s.count for s in self)

    def as_dicts(self) -> list[dict[str, Any]]:
        return [s.as_dict() for s in self]

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps({"sites": self.as_dicts(), "dropped": self.dropped}, **kwargs)

    def table(self) -> str:
        """A plain-text table: relation, location, count, N+1, fix."""
        if not self:
            return "No lazy loads recorded."
        rows = [("relation", "location", "count", "N+1", "fix")]
        for s in self:
            count = str(s.count) if not s.blocked else f"{s.count} ({s.blocked} blocked)"
            where = f"{s.location} [{s.package}]" if s.package else s.location
            rows.append((s.relation, where, count, "yes" if s.n_plus_one else "no", s.fix))
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        lines = []
        for i, row in enumerate(rows):
            cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1]), row[2].rjust(widths[2])]
            cells += [row[3].ljust(widths[3]), row[4]]
            lines.append("  ".join(cells).rstrip())
            if i == 0:
                lines.append("  ".join("-" * w for w in widths))
        if self.dropped:
            lines.append(f"({self.dropped} more sites not kept: over {MAX_SITES})")
        lines += self._package_lines()
        return "\n".join(lines)

    def _package_lines(self) -> list[str]:
        """One line per installed package whose reads were blocked: the package and the switch."""
        blocked: dict[str, int] = {}
        for s in self:
            if s.package and s.blocked:
                blocked[s.package] = blocked.get(s.package, 0) + s.blocked
        return [
            f"Reads by the installed package {name!r} were blocked {n} time{'s' if n != 1 else ''} "
            f"(its reads on one of many instances follow the mode); to let them load: "
            f'RELATIONS["PACKAGES"] = {{{name!r}: "lazy"}}'
            for name, n in sorted(blocked.items())
        ]

    def summary(self) -> str:
        """One line: how many sites, reads and N+1s."""
        n = len(self)
        return (
            f"{n} lazy-load site{'s' if n != 1 else ''}, {self.total} read{'s' if self.total != 1 else ''}"
            f", {len(self.n_plus_one)} N+1"
        )

    def __str__(self) -> str:
        return f"{self.summary()}\n{self.table()}" if self else self.table()


@dataclass(frozen=True)
class _Event:
    key: tuple[str, str, int]
    relation: str
    function: str
    kind: str
    fix: str
    group: peers.PeerGroup | None
    instance_id: int
    blocked: bool
    message: str
    package: str = ""


class _SiteState:
    __slots__ = ("blocked", "count", "event", "groups", "message", "n_plus_one")

    def __init__(self, event: _Event) -> None:
        self.event = replace(event, group=None)  # metadata only: keep no peer group alive
        self.count = 0
        self.blocked = 0
        self.n_plus_one = False
        self.message = ""
        # id(peer group) -> (weak reference to it, ids of the instances read here)
        self.groups: dict[int, tuple[weakref.ref[peers.PeerGroup], set[int]]] = {}

    def add(self, event: _Event) -> None:
        self.count += 1
        if event.blocked:
            self.blocked += 1
            if not self.message:
                self.message = event.message
        group = event.group
        if self.n_plus_one or group is None or len(group) < 2:
            return
        if event.blocked:  # the loop stopped at its first item; it would have gone on
            self.n_plus_one = True
            return
        entry = self.groups.get(id(group))
        if entry is None or entry[0]() is not group:
            if len(self.groups) >= 16:  # keep the bookkeeping small
                self.groups.clear()
            entry = self.groups[id(group)] = (weakref.ref(group), set())
        entry[1].add(event.instance_id)
        if len(entry[1]) > 1:
            self.n_plus_one = True
            self.groups.clear()

    def site(self) -> Site:
        e = self.event
        return Site(
            relation=e.relation,
            path=e.key[1],
            line=e.key[2],
            function=e.function,
            kind=e.kind,
            fix=e.fix,
            count=self.count,
            blocked=self.blocked,
            n_plus_one=self.n_plus_one,
            message=self.message,
            package=e.package,
        )


class Recorder:
    """A thread-safe collection of sites."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sites: dict[tuple[str, str, int], _SiteState] = {}
        self._dropped = 0

    def add(self, event: _Event) -> None:
        with self._lock:
            state = self._sites.get(event.key)
            if state is None:
                if len(self._sites) >= MAX_SITES:
                    self._dropped += 1
                    return
                state = self._sites[event.key] = _SiteState(event)
            state.add(event)

    def report(self) -> Report:
        """A snapshot of the sites recorded so far."""
        with self._lock:
            return Report((s.site() for s in self._sites.values()), self._dropped)

    def clear(self) -> None:
        with self._lock:
            self._sites.clear()
            self._dropped = 0

    def __len__(self) -> int:
        return len(self._sites)

    def __bool__(self) -> bool:
        return True


_global = Recorder()
_listeners: list[Recorder] = []  # process-wide extra recorders (the pytest plugin's session)
_scoped: ContextVar[tuple[Recorder, ...]] = ContextVar("relations_capture", default=())


def record(
    info: RelationInfo,
    instance: Model,
    caller: FrameType | None,
    *,
    blocked: bool = False,
    message: str = "",
) -> None:
    """Record a read of ``info`` on ``instance`` (not loaded) from ``caller``."""
    # Imported here: the policy package imports this module while it initializes.
    from .policy.callsite import reading_package

    path, line, function = user_location(caller)
    label = f"{type(instance)._meta.label}.{info.name}"
    event = _Event(
        key=(label, path, line),
        relation=label,
        function=function,
        kind=info.kind.value,
        fix=f'{info.kind.fix_method}("{info.name}")',
        group=peers.group_of(instance),
        instance_id=id(instance),
        blocked=blocked,
        message=message,
        package=reading_package(caller) or "",
    )
    _global.add(event)
    for recorder in (*_listeners, *_scoped.get()):
        recorder.add(event)


def report(*, reset: bool = False) -> Report:
    """The lazy-load sites recorded in this process so far (``reset``: then forget them)."""
    result = _global.report()
    if reset:
        _global.clear()
    return result


def reset() -> None:
    """Forget the sites recorded in this process so far."""
    _global.clear()


@contextmanager
def capture() -> Iterator[Recorder]:
    """Collect the sites recorded inside the block (this thread or asyncio task only).

    ``with capture() as rec: ...`` then ``rec.report()``.  The process-wide report
    records them as well.
    """
    recorder = Recorder()
    token = _scoped.set((*_scoped.get(), recorder))
    try:
        yield recorder
    finally:
        _scoped.reset(token)


def add_listener(recorder: Recorder) -> None:
    """Also record every site of this process in ``recorder`` (all threads)."""
    with _global._lock:
        if recorder not in _listeners:
            _listeners.append(recorder)


def remove_listener(recorder: Recorder) -> None:
    with _global._lock:
        if recorder in _listeners:
            _listeners.remove(recorder)


def _log_at_exit() -> None:
    try:
        enabled = config().report_at_exit
    except Exception:  # settings unavailable at exit: nothing to say
        return
    result = _global.report()
    if enabled and result:
        logger.warning("Lazy-load report: %s\n%s", result.summary(), result.table())


atexit.register(_log_at_exit)


class _ReportModule(types.ModuleType):
    """This module, callable as its own ``report()`` function.

    ``relations.report`` is public as both the function (``relations.report()``) and this
    module (``from relations.report import capture``).  Importing the module binds it as
    the package's ``report`` attribute, which would hide the function: calling the module
    calls the function, whichever of the two the attribute holds.
    """

    def __call__(self, *, reset: bool = False) -> Report:
        return report(reset=reset)


sys.modules[__name__].__class__ = _ReportModule
