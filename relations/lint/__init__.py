"""A static lint for relation reads that the queries did not load.

    python -m relations lint PATH... [--settings mysite.settings] [--format json]

It knows the project's models (Django is set up from the settings module) and
follows querysets through each function: a relation read on an instance whose
query has no matching ``select_related``/``prefetch_related`` (and no earlier
``R()``/``prefetch()`` on it in the same function; with ``RELATIONS["PEERS"]`` an
``R()`` on one instance of a result loads the whole result) is reported when it runs once
per item of a loop or comprehension (REL001), anywhere in an ``async def``
(REL002), or inside a helper, method or property called from such a place
(REL003, at the call).  One line per finding, ``path:line:col CODE message``;
exit status 1 when there are findings.

It prefers silence over false alarms: what it cannot follow (querysets from
unknown functions, dynamic lookups, custom managers that load relations
themselves, lambdas) it does not report.  The runtime check stays the guarantee;
the lint finds code that the tests do not run.

A finding is silenced by a pragma on its line: ``# relations: ignore`` (any code)
or ``# relations: ignore[REL001]`` (only those codes).  N+1s that the settings
accept (``RELATIONS["ALLOW_RELATIONS"]``/``["ALLOW_LOCATIONS"]``) are not reported;
reads in async code are, since there the runtime raises whatever the allow-lists.
"""

from __future__ import annotations

import importlib.machinery
import os
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from ..conf import config
from ..report import location_allowed, relation_allowed
from .analyzer import Analyzer, Finding, ModuleInfo
from .models import ModelIndex

__all__ = ["CODES", "Finding", "lint_paths", "lint_source"]

CODES = {
    "REL001": "N+1: a relation read for each item of a loop over a query that does not load it",
    "REL002": "a relation read in async code on an instance whose query does not load it (raises)",
    "REL003": "a helper, method or property called per item (or in async code) reads such a relation",
}

_PRAGMA = re.compile(r"#\s*relations:\s*ignore(?:\[(?P<codes>[A-Za-z0-9_,\s]+)\])?")
_SKIP_DIRS = {
    ".git",
    ".hg",
    ".venv",
    "venv",
    "env",
    "node_modules",
    "__pycache__",
    "migrations",
    "build",
    "dist",
}
_SITE = ("site-packages", "dist-packages")


def _module_name(path: str) -> str:
    """The dotted module name of ``path`` from the longest sys.path entry above it."""
    path = os.path.abspath(path)
    best = ""
    for entry in sys.path:
        root = os.path.abspath(entry or os.curdir)
        if path.startswith(root + os.sep) and len(root) > len(best):
            best = root
    if not best:
        return ""
    rel = os.path.relpath(path, best)[: -len(".py")] if path.endswith(".py") else ""
    parts = rel.split(os.sep)
    if parts and parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts) if all(p.isidentifier() for p in parts) else ""


def _module_file(name: str) -> str | None:
    """The source file of module ``name``, found without importing anything."""
    search: list[str] | None = list(sys.path)
    origin: str | None = None
    for part in name.split("."):
        if search is None:
            return None
        try:
            spec = importlib.machinery.PathFinder.find_spec(part, search)
        except (ImportError, ValueError, OSError):
            return None
        if spec is None:
            return None
        origin = spec.origin
        locations = spec.submodule_search_locations
        search = list(locations) if locations is not None else None
    return origin


class Modules:
    """Parsed modules of the project, by path and by dotted name (cached)."""

    def __init__(self) -> None:
        self._by_path: dict[str, ModuleInfo | None] = {}

    def at(self, path: str, source: str | None = None) -> ModuleInfo | None:
        path = os.path.abspath(path)
        if path not in self._by_path:
            info: ModuleInfo | None = None
            try:
                if source is None:
                    with open(path, encoding="utf-8") as fh:
                        source = fh.read()
                info = ModuleInfo.parse(path, source, _module_name(path))
            except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
                info = None
            self._by_path[path] = info
        return self._by_path[path]

    def by_name(self, name: str) -> ModuleInfo | None:
        if not name or name.startswith("."):
            return None
        origin = _module_file(name)
        if not origin or not origin.endswith(".py") or any(s in origin.split(os.sep) for s in _SITE):
            return None
        return self.at(origin)


def python_files(paths: Iterable[str]) -> Iterator[str]:
    """The .py files at or under ``paths`` (skipping virtualenvs, migrations, VCS dirs)."""
    for path in paths:
        if os.path.isdir(path):
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.startswith("."))
                for name in sorted(files):
                    if name.endswith(".py"):
                        yield os.path.join(root, name)
        elif path.endswith(".py") or os.path.isfile(path):
            yield path


def _ignored(finding: Finding, lines: list[str]) -> bool:
    if not 0 < finding.line <= len(lines):
        return False
    match = _PRAGMA.search(lines[finding.line - 1])
    if match is None:
        return False
    codes = match.group("codes")
    return codes is None or finding.code in {c.strip().upper() for c in codes.split(",")}


def lint_source(
    path: str, source: str, index: ModelIndex | None = None, modules: Modules | None = None
) -> list[Finding]:
    """Findings in one file's ``source`` (Django must be set up)."""
    index = index or ModelIndex()
    modules = modules or Modules()
    module = modules.at(path, source)
    if module is None:
        return []
    findings = Analyzer(index, module, modules, peers=_peers()).run()
    unique = {(f.line, f.col, f.code, f.relation): f for f in findings}
    kept = [f for f in unique.values() if not _ignored(f, module.lines) and not _accepted(f)]
    return sorted(kept, key=lambda f: (f.line, f.col, f.code))


def _peers() -> bool:
    """``RELATIONS["PEERS"]``: does ``R()`` on one instance load its peers too?

    Unreadable settings count as the default (on), which reports less.
    """
    try:
        return config().peers
    except ImproperlyConfigured:
        return True


def _accepted(finding: Finding) -> bool:
    """An N+1 that ``RELATIONS["ALLOW_RELATIONS"]``/``["ALLOW_LOCATIONS"]`` accepts.

    Reads in async code are always reported: there the runtime raises, allowed or not.
    """
    if finding.raises:
        return False
    try:
        cfg = config()
    except ImproperlyConfigured:
        return False
    if relation_allowed(cfg.allow_relations, (finding.relation.lower(),)):
        return True
    places = [(finding.path, finding.line)] + ([finding.via] if finding.via else [])
    return any(location_allowed(cfg.allow_locations, path, line) for path, line in places)


def lint_paths(
    paths: Iterable[str], *, relative_to: str | None = None, errors: list[str] | None = None
) -> list[Finding]:
    """Findings in every Python file at or under ``paths`` (Django must be set up).

    Paths in the findings are relative to ``relative_to`` (default: the current
    directory) when the file is inside it.  A file the lint cannot analyse is
    skipped, with a line in ``errors`` when given.
    """
    index = ModelIndex()
    modules = Modules()
    base = os.path.abspath(relative_to or os.curdir)
    results: list[Finding] = []
    for path in python_files(paths):
        try:
            with open(path, encoding="utf-8") as fh:
                source = fh.read()
        except (OSError, UnicodeDecodeError):
            continue
        try:
            found = lint_source(os.path.abspath(path), source, index, modules)
        except SyntaxError:
            continue
        except Exception as exc:  # a bug of the lint (RecursionError included): skip the file, say so
            if errors is not None:
                errors.append(f"{path}: {type(exc).__name__}: {exc}")
            continue
        for f in found:
            shown = os.path.relpath(f.path, base) if f.path.startswith(base + os.sep) else f.path
            results.append(replace(f, path=shown))
    return results


def as_json(findings: list[Finding]) -> list[dict[str, Any]]:
    return [f.as_dict() for f in findings]
