"""pytest plugin of django-strict-relations (entry point ``pytest11``: ``relations``).

Off unless asked.  Installing the package only registers the ``relations`` marker
and the fixtures below; nothing changes until one of them is used.

Whole run::

    pytest --relations-mode=raise     # every lazy load raises RelationNotLoaded: the test fails
    pytest --relations-mode=record    # lazy loads run silently; a table of sites at the end
    pytest --relations-mode=warn      # ... with a RelationLazyLoadWarning each
    pytest --relations-mode=record --relations-report-json=lazy-loads.json

(or ``relations_mode = record`` in the ``[pytest]`` ini section).  The option sets
``RELATIONS["MODE"]`` for the run; per-model ``MODELS`` entries and allow-lists
stay in force.  With any of the three modes the terminal summary lists every
lazy-load site: relation, location, count, N+1 or not, and the first test that
hit it.

Single tests::

    @pytest.mark.relations(mode="raise")                      # this test only
    @pytest.mark.relations(allow=["shop.Book.author"])        # accepted here
    def test_catalogue(db): ...

    def test_no_n_plus_one(relations_record):                 # record mode, and the sites
        catalogue()
        assert not relations_record.report().n_plus_one

Fixtures: ``relations_report`` (the sites recorded during the test, whatever the
mode), ``relations_record``, ``relations_warn`` and ``relations_raise`` (that mode
for the test, then the same object).  A marker's or fixture's mode is scoped like
``relations.mode()`` (it beats ``RELATIONS["MODELS"]``) and follows the test into
``sync_to_async`` and pytest-asyncio's event loop.  Inside a running event loop
nothing loads implicitly in any mode, so async tests see ``RelationNotLoaded``
for unloaded reads outside ``sync_to_async``, as in production.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Generator, Iterator
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .report import Recorder, Site

MODES = ("raise", "warn", "record")
_SiteKey = tuple[str, str, int]


class _State:
    """What the plugin keeps for one pytest run."""

    def __init__(self, mode: str | None, json_path: str | None) -> None:
        self.mode = mode
        self.json_path = json_path
        self.used = False  # a marker or fixture asked for the plugin
        self.session: Recorder | None = None  # every site of the run (with --relations-mode)
        self.override: Any = None
        self.sites: dict[_SiteKey, Site] = {}  # merged from the tests' captures
        self.first_test: dict[_SiteKey, str] = {}

    def merge(self, nodeid: str, sites: Iterator[Site]) -> None:
        for site in sites:
            key = (site.relation, site.path, site.line)
            self.first_test.setdefault(key, nodeid)
            old = self.sites.get(key)
            if old is None:
                self.sites[key] = site
            else:
                self.sites[key] = dataclasses.replace(
                    old,
                    count=old.count + site.count,
                    blocked=old.blocked + site.blocked,
                    n_plus_one=old.n_plus_one or site.n_plus_one,
                    message=old.message or site.message,
                )

    def report(self) -> list[Site]:
        from .report import Report

        if self.session is not None:
            return list(self.session.report())
        return list(Report(self.sites.values()))


_STATE = pytest.StashKey[_State]()
_CAPTURES = pytest.StashKey[list["Recorder"]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("relations", "django-strict-relations")
    group.addoption(
        "--relations-mode",
        choices=MODES,
        default=None,
        help="RELATIONS['MODE'] for the whole run (raise: a lazy load fails the test; "
        "warn/record: it runs and is listed in a summary of lazy-load sites).",
    )
    group.addoption(
        "--relations-report-json",
        metavar="PATH",
        default=None,
        help="Also write the lazy-load sites of the run to PATH as JSON.",
    )
    parser.addini("relations_mode", "Default for --relations-mode (raise, warn, record).", default="")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "relations(mode=None, allow=()): run this test in a django-strict-relations mode "
        '("raise", "warn", "record", "lazy", "n_plus_one") and/or accept the lazy loads of '
        'the given relations ("app_label.ModelName.relation").',
    )
    mode = config.getoption("relations_mode") or str(config.getini("relations_mode") or "") or None
    if mode is not None and mode not in MODES:
        raise pytest.UsageError(f"relations_mode = {mode!r}; expected one of: {', '.join(MODES)}.")
    config.stash[_STATE] = _State(mode, config.getoption("relations_report_json"))


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    state = session.config.stash[_STATE]
    if state.mode is None:
        return
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.test.utils import override_settings

    try:
        current = getattr(settings, "RELATIONS", None)
    except ImproperlyConfigured as exc:
        raise pytest.UsageError(
            "--relations-mode needs Django settings: set DJANGO_SETTINGS_MODULE "
            f"(pytest-django's --ds or ini option) or configure settings in a conftest ({exc})."
        ) from None
    from .report import Recorder, add_listener

    base = current if isinstance(current, dict) else {}
    state.override = override_settings(RELATIONS={**base, "MODE": state.mode})
    state.override.enable()
    state.session = Recorder()
    add_listener(state.session)


def pytest_sessionfinish(session: pytest.Session) -> None:
    state = session.config.stash.get(_STATE, None)
    if state is None:
        return
    if state.session is not None:
        from .report import remove_listener

        remove_listener(state.session)
    if state.override is not None:
        state.override.disable()
        state.override = None
    config = session.config
    if getattr(config.option, "dist", "no") != "no" and not hasattr(config, "workerinput"):
        return  # the pytest-xdist controller runs no tests: the workers write their own files
    if state.json_path and (state.mode is not None or state.used):
        path = state.json_path
        worker = getattr(config, "workerinput", {}).get("workerid")
        if worker:
            root, ext = os.path.splitext(path)
            path = f"{root}.{worker}{ext or '.json'}"
        sites = [
            {**s.as_dict(), "first_test": state.first_test.get((s.relation, s.path, s.line), "")}
            for s in state.report()
        ]
        with open(path, "w", encoding="utf-8") as fh:
            json.dump({"sites": sites}, fh, indent=2)


def _marker_options(item: pytest.Item) -> tuple[str | None, list[str]]:
    marker = item.get_closest_marker("relations")
    if marker is None:
        return None, []
    mode = marker.kwargs.get("mode", marker.args[0] if marker.args else None)
    allow = marker.kwargs.get("allow", ())
    if isinstance(allow, str):
        allow = [allow]
    return mode, list(allow)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, Any, Any]:
    state = item.config.stash.get(_STATE, None)
    if state is None:
        return (yield)
    mode_name, allowed = _marker_options(item)
    item.stash[_CAPTURES] = []
    with ExitStack() as stack:
        if state.mode is not None or mode_name is not None or allowed:
            from .policy import mode
            from .report import allow, capture

            state.used = state.used or mode_name is not None or bool(allowed)
            if mode_name is not None:
                stack.enter_context(mode(mode_name))
            if allowed:
                stack.enter_context(allow(*allowed))
            item.stash[_CAPTURES].append(stack.enter_context(capture()))
        try:
            return (yield)
        finally:
            _collect(item, state)


def _collect(item: pytest.Item, state: _State) -> None:
    # The first capture is the outermost: it saw everything the later ones saw.
    captures = item.stash.get(_CAPTURES, [])
    if captures:
        state.merge(item.nodeid, iter(captures[0].report()))
    item.stash[_CAPTURES] = []


def _fixture_capture(
    request: pytest.FixtureRequest, mode_name: str | None
) -> Generator[Recorder, None, None]:
    from .policy import mode
    from .report import capture

    state = request.config.stash.get(_STATE, None)
    node = request.node
    with ExitStack() as stack:
        if mode_name is not None:
            stack.enter_context(mode(mode_name))
        recorder = stack.enter_context(capture())
        if state is not None and isinstance(node, pytest.Item):
            state.used = True
            node.stash.setdefault(_CAPTURES, []).append(recorder)
        yield recorder


@pytest.fixture
def relations_report(request: pytest.FixtureRequest) -> Generator[Recorder, None, None]:
    """The lazy-load sites recorded during this test: ``relations_report.report()``."""
    yield from _fixture_capture(request, None)


@pytest.fixture
def relations_record(request: pytest.FixtureRequest) -> Generator[Recorder, None, None]:
    """Record mode for this test (lazy loads run silently); yields the recorder."""
    yield from _fixture_capture(request, "record")


@pytest.fixture
def relations_warn(request: pytest.FixtureRequest) -> Generator[Recorder, None, None]:
    """Warn mode for this test (lazy loads run, with a warning); yields the recorder."""
    yield from _fixture_capture(request, "warn")


@pytest.fixture
def relations_raise(request: pytest.FixtureRequest) -> Generator[Recorder, None, None]:
    """Raise mode for this test (a lazy load raises RelationNotLoaded); yields the recorder."""
    yield from _fixture_capture(request, "raise")


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    state = config.stash.get(_STATE, None)
    if state is None or (state.mode is None and not state.used) or hasattr(config, "workerinput"):
        return
    title = "django-strict-relations: lazy-load sites"
    if state.mode is not None:
        title += f" (--relations-mode={state.mode})"
    terminalreporter.write_sep("=", title)
    if getattr(config.option, "dist", "no") != "no":
        terminalreporter.write_line(
            "The sites are recorded in each pytest-xdist worker: run without -n to see them here, "
            "or use --relations-report-json=PATH (one PATH.<worker>.json per worker)."
        )
        return
    sites = state.report()
    if not sites:
        terminalreporter.write_line("No lazy loads.")
        return
    rows = [("relation", "location", "count", "N+1", "first test")]
    for s in sites:
        count = str(s.count) if not s.blocked else f"{s.count} ({s.blocked} blocked)"
        first = state.first_test.get((s.relation, s.path, s.line), "")
        rows.append((s.relation, s.location, count, "yes" if s.n_plus_one else "no", first))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for i, row in enumerate(rows):
        cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1]), row[2].rjust(widths[2])]
        cells += [row[3].ljust(widths[3]), row[4]]
        terminalreporter.write_line("  ".join(cells).rstrip())
        if i == 0:
            terminalreporter.write_line("  ".join("-" * w for w in widths))
    n_plus_one = sum(1 for s in sites if s.n_plus_one)
    total = sum(s.count for s in sites)
    terminalreporter.write_line(
        f"{len(sites)} site{'s' if len(sites) != 1 else ''}, {total} lazy load{'s' if total != 1 else ''}, "
        f"{n_plus_one} N+1. Fix: select_related()/prefetch_related() on the query, or prefetch(); "
        'accept: RELATIONS["ALLOW_RELATIONS"]/["ALLOW_LOCATIONS"].'
    )
