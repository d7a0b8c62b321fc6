"""Instrumentation for Django's own test suite run with (or without) this library.

* ``SuiteRunner`` (``TEST_RUNNER``): records every test's outcome, and for failures
  and errors a short description (exception, the test line that raised, the relation
  for ``RelationNotLoaded``), into ``$DJANGO_SUITE_OUT/result.json``.  Before the
  tests run it counts the relation descriptors on every model of the run and which
  of them are this library's strict classes: a run where nothing was replaced
  proves nothing, so ``run.py`` fails it.
* Probes (installed by the settings module when the library is on): every read of a
  relation that the library considers "not loaded" goes through
  ``relations.policy.unloaded``; the probes count those reads, and check each
  guarded descriptor call against the SQL that Django then really ran:

  - ``asked-no-query``: the policy was asked (so "raise" mode would raise) but
    Django answered without any query: the library's "is it loaded?" is wrong.
  - ``raised-no-query``: in "raise" mode the policy raised, and the same call run
    again in "lazy" mode runs no SQL: raising where Django needs no query.
  - ``query-not-asked``: Django ran a query inside a guarded descriptor call that
    the library considered loaded or free: "raise" mode would let a hidden query
    through.

  With ``RELATIONS["LAZY_LOADER"] = "relations"`` the probes also count the reads
  that the library's loaders served (``relations.policy.serve``), per test app.

  Findings go to ``$DJANGO_SUITE_OUT/probe-<pid>.json`` (one file per process, so
  parallel workers need no shared memory), with the test that was running.
"""

from __future__ import annotations

import functools
import json
import os
import threading
import traceback
import unittest
from collections import Counter
from typing import Any

from django.test.runner import DiscoverRunner

OUT = os.environ.get("DJANGO_SUITE_OUT", "")
RUNTESTS_DIR = os.environ.get("RUNTESTS_DIR", "")

# ---------------------------------------------------------------- probes

_local = threading.local()
_state: dict[str, Any] = {
    "test": "(before any test)",
    "counts": Counter(),
    "findings": [],
}


class _Frame:
    __slots__ = ("asked", "queries", "sql", "what")

    def __init__(self, what: str) -> None:
        self.what = what
        self.asked = 0
        self.queries = 0
        self.sql = ""


def _frames() -> list[_Frame]:
    frames = getattr(_local, "frames", None)
    if frames is None:
        frames = _local.frames = []
    return frames


def _test_location() -> str:
    """The innermost frame of the running Django test code (under tests/)."""
    where = ""
    for frame in traceback.extract_stack()[:-2]:
        if RUNTESTS_DIR and frame.filename.startswith(RUNTESTS_DIR):
            where = f"{os.path.relpath(frame.filename, RUNTESTS_DIR)}:{frame.lineno}: {frame.line}"
    return where


def _relation_of(args: tuple[Any, ...]) -> str:
    """'Model.name' of the relation a probed call is about."""
    from relations.kinds import attribute_name

    try:
        target = args[0]
        if hasattr(target, "_relations_guard"):  # a guarded queryset
            descriptor, instance = target._relations_guard
        elif hasattr(target, "_relations_descriptor"):  # a guarded manager
            descriptor, instance = target._relations_descriptor[0], target.instance
        else:  # a descriptor's __get__(instance, cls)
            descriptor, instance = target, args[1]
        return f"{type(instance)._meta.label}.{attribute_name(descriptor)}"
    except Exception as exc:
        return f"? ({exc!r})"


def _finding(kind: str, frame: _Frame, args: tuple[Any, ...], exc: BaseException | None) -> None:
    counts = _state["counts"]
    counts[kind] += 1
    if len(_state["findings"]) >= 500:
        return
    _state["findings"].append(
        {
            "kind": kind,
            "test": _state["test"],
            "what": frame.what,
            "relation": _relation_of(args),
            "exception": type(exc).__name__ if exc is not None else "",
            "sql": frame.sql[:300],
            "where": _test_location(),
        }
    )


def _judge(
    frame: _Frame, outer: list[_Frame], original: Any, args: tuple[Any, ...], kwargs: Any, exc: Any
) -> None:
    from relations.errors import RelationNotLoaded

    if frame.what.endswith(".iterator"):
        return  # the query runs later, while the generator is consumed
    if isinstance(exc, RelationNotLoaded):
        if frame.asked:
            retry = _retry_lazily(original, frame.what, args, kwargs)
            if retry is not None and retry[0].queries == 0:
                # exception: what Django itself raised on the retry, if anything
                _finding("raised-no-query", retry[0], args, retry[1])
    elif frame.asked and frame.queries == 0:
        _finding("asked-no-query", frame, args, exc)
    elif not frame.asked and frame.queries and not any(f.asked for f in outer):
        _finding("query-not-asked", frame, args, exc)


def _instance_of(args: tuple[Any, ...]) -> Any:
    target = args[0]
    if hasattr(target, "_relations_guard"):
        return target._relations_guard[1]
    if hasattr(target, "_relations_descriptor"):
        return target.instance
    return args[1]


def _retry_lazily(
    original: Any, what: str, args: tuple[Any, ...], kwargs: Any
) -> tuple[_Frame, BaseException | None] | None:
    """The policy raised: would Django itself have needed a query here?

    Runs the same call again in "lazy" mode, counting SQL, then puts the instance's
    (and queryset's) caches back as they were, so the test sees the state the
    exception left.  None when no retry is possible (inside an event loop).
    """
    import asyncio

    from relations import mode

    if getattr(_local, "retrying", False) or asyncio._get_running_loop() is not None:
        return None
    instance = _instance_of(args)
    fields_cache = dict(instance._state.fields_cache)
    prefetched = getattr(instance, "_prefetched_objects_cache", None)
    prefetched = dict(prefetched) if prefetched is not None else None
    target = args[0]
    frames = _frames()
    frame = _Frame(f"{what}, run again in lazy mode")
    frames.append(frame)
    _local.retrying = True
    raised = None
    try:
        with mode("lazy"):
            original(*args, **kwargs)
    except Exception as exc:
        raised = exc
    finally:
        _local.retrying = False
        frames.pop()
        instance._state.fields_cache = fields_cache
        if prefetched is None:
            instance.__dict__.pop("_prefetched_objects_cache", None)
        else:
            instance._prefetched_objects_cache = prefetched
        if hasattr(target, "_relations_guard"):  # a queryset: forget what the retry fetched
            target._result_cache = None
            target._prefetch_done = False
    return frame, raised


def _probe(original: Any, what: str) -> Any:
    @functools.wraps(original)
    def probed(*args: Any, **kwargs: Any) -> Any:
        frames = _frames()
        frame = _Frame(what)
        frames.append(frame)
        exc = None
        try:
            return original(*args, **kwargs)
        except BaseException as e:
            exc = e
            raise
        finally:
            frames.pop()
            _judge(frame, frames, original, args, kwargs, exc)

    probed._django_suite_probe = True  # type: ignore[attr-defined]
    return probed


def _wrap(cls: type, name: str) -> None:
    original = cls.__dict__.get(name)
    if original is None:  # the library changed: say so rather than probe less
        _state["counts"][f"probe not installed: {cls.__name__}.{name}"] += 1
        return
    if getattr(original, "_django_suite_probe", False):
        return
    setattr(cls, name, _probe(original, f"{cls.__name__}.{name}"))


def _count_query(original: Any) -> Any:
    @functools.wraps(original)
    def execute(self: Any, sql: Any, params: Any, many: Any, executor: Any) -> Any:
        for frame in _frames():
            frame.queries += 1
            if not frame.sql:
                frame.sql = str(sql)
        return original(self, sql, params, many, executor)

    return execute


def _install_generic_probes() -> None:
    from relations.descriptors import generic

    _wrap(generic.GenericForeignGuard, "__get__")


def _signals() -> list[Any]:
    from django.core import signals as core_signals
    from django.db.backends import signals as backend_signals
    from django.db.models import signals as model_signals
    from django.dispatch import Signal
    from django.test import signals as test_signals

    found = []
    for module in (model_signals, core_signals, backend_signals, test_signals):
        found += [v for v in vars(module).values() if isinstance(v, Signal)]
    return found


def _restore(snapshot: list[tuple[Any, list[Any]]]) -> None:
    for signal, receivers in snapshot:
        if signal.receivers != receivers:
            with signal.lock:
                signal.receivers = list(receivers)
                signal.sender_receivers_cache.clear()


def install_isolation() -> None:
    """Name the running test (for findings) and isolate failing tests' signal receivers.

    Some Django tests connect a signal receiver and disconnect it at their end; when
    such a test fails in between (as in "raise" mode), the receiver stays connected
    and breaks every later test of the process (``delete.tests.OnDeleteTests.
    test_do_nothing`` leaves a ``pre_delete`` receiver that fails every delete).
    After a test that failed, the receivers of Django's signals are restored to
    what they were before it, so one failure stays one failure, whatever the batch.
    Passing tests are left alone.  Installed in every mode, the reference included.
    """
    if _state.get("isolation"):
        return
    _state["isolation"] = True
    signals = _signals()

    def failed_count(result: Any) -> int:
        events = getattr(result, "events", None)  # the parallel runner's RemoteTestResult
        if isinstance(events, list):
            return sum(1 for event in events if event[0] in ("addError", "addFailure", "addSubTest"))
        try:
            return len(result.errors) + len(result.failures)
        except (AttributeError, TypeError):
            return 0

    def isolating(original: Any) -> Any:
        @functools.wraps(original)
        def wrapper(self: Any, result: Any = None, *args: Any, **kwargs: Any) -> Any:
            previous = _state["test"]
            _state["test"] = self.id()
            snapshot = [(signal, list(signal.receivers)) for signal in signals]
            before = failed_count(result)
            try:
                return original(self, result, *args, **kwargs)
            finally:
                _state["test"] = previous
                if failed_count(result) > before:
                    _restore(snapshot)
                _flush()

        return wrapper

    from django.test import SimpleTestCase

    SimpleTestCase.__call__ = isolating(SimpleTestCase.__call__)
    unittest.TestCase.__call__ = isolating(unittest.TestCase.__call__)
    handle = getattr(unittest.TestSuite, "_handleClassSetUp", None)
    if handle is not None:

        def class_setup(self: Any, test: Any, result: Any) -> Any:
            previous = _state["test"]
            _state["test"] = f"{type(test).__module__}.{type(test).__qualname__} (setUpClass)"
            try:
                return handle(self, test, result)
            finally:
                _state["test"] = previous

        unittest.TestSuite._handleClassSetUp = class_setup  # type: ignore[attr-defined]


def _flush() -> None:
    if not OUT:
        return
    path = os.path.join(OUT, f"probe-{os.getpid()}.json")
    with open(path + ".tmp", "w") as f:
        json.dump({"counts": dict(_state["counts"]), "findings": _state["findings"]}, f)
    os.replace(path + ".tmp", path)


def install_probes() -> None:
    """Instrument the library's policy and guards, and Django's cursor (idempotent)."""
    if _state.get("installed"):
        return
    _state["installed"] = True
    from django.db.backends import utils

    from relations import policy
    from relations.descriptors import install, to_many, to_one

    original_unloaded = policy.unloaded

    def unloaded(info: Any, instance: Any) -> None:
        if not getattr(_local, "retrying", False):
            _state["counts"]["policy asked"] += 1
            _state["counts"][f"policy asked: {info.kind.value}"] += 1
        frames = _frames()
        if frames:
            frames[-1].asked += 1
        try:
            original_unloaded(info, instance)
        except BaseException:
            if not getattr(_local, "retrying", False):
                _state["counts"]["policy raised"] += 1
            raise

    policy.unloaded = unloaded  # descriptors.guard looks it up at call time

    from relations.policy import serve

    original_serve = serve.serve

    def served(info: Any, instance: Any) -> bool:
        done = original_serve(info, instance)
        if done and not getattr(_local, "retrying", False):
            _state["counts"]["served by the loaders"] += 1
            _state["counts"][f"served: {_state['test'].split('.')[0]}"] += 1
        return done

    serve.serve = served  # descriptors.guard looks it up at call time
    utils.CursorWrapper._execute_with_wrappers = _count_query(utils.CursorWrapper._execute_with_wrappers)
    _wrap(to_one.ForwardGuard, "__get__")
    _wrap(to_one.ReverseOneGuard, "__get__")
    for name in ("__iter__", "__len__", "__bool__", "_fetch_all", "count", "exists", "iterator"):
        _wrap(to_many.GuardedQuerySet, name)
    _wrap(to_many.GuardedManager, "_ask_then")

    original_generic = install.install_generic

    def install_generic() -> None:
        original_generic()
        _install_generic_probes()

    install.install_generic = install_generic  # type: ignore[assignment]


# ---------------------------------------------------------------- results


def _describe_error(err: Any) -> dict[str, Any]:
    etype, value, tb = err
    frames = traceback.extract_tb(tb) if tb is not None else []
    in_tests = [f for f in frames if RUNTESTS_DIR and f.filename.startswith(RUNTESTS_DIR)]
    where = in_tests[-1] if in_tests else (frames[-1] if frames else None)
    chain = []
    exc = value
    while isinstance(exc, BaseException) and len(chain) < 5:
        chain.append(f"{type(exc).__module__}.{type(exc).__name__}")
        exc = exc.__cause__ or exc.__context__
    message = str(value).strip().splitlines()
    detail: dict[str, Any] = {
        "type": getattr(etype, "__name__", str(etype)),
        "chain": chain,
        "message": message[0][:300] if message else "",
        "where": f"{os.path.relpath(where.filename, RUNTESTS_DIR)}:{where.lineno}" if where else "",
        "line": (where.line or "").strip() if where else "",
        "traceback": "".join(traceback.format_exception(etype, value, tb))[-6000:],
    }
    # RelationNotLoaded, found anywhere in the chain.
    exc = value
    while isinstance(exc, BaseException):
        if type(exc).__name__ == "RelationNotLoaded":
            detail["relation"] = f"{getattr(exc, 'model', '')}.{getattr(exc, 'relation', '')}"
            detail["kind"] = getattr(exc, "kind", "")
            detail["accessor"] = _accessor(traceback.extract_tb(exc.__traceback__))
            break
        exc = exc.__cause__ or exc.__context__
    return detail


_PLUMBING = ("django/db/models/query.py", "django/db/models/manager.py", "django_suite_hook.py")


def _accessor(frames: Any) -> str:
    """Who read the relation: the frame just outside the library and the ORM plumbing.

    "test" for Django's test code; "django:<path>:<function>" for Django's own code
    (assertion helpers, or a Django function that the test called); "python:..." for
    the standard library (unittest's assertion helpers).
    """
    import sys

    libraries = [  # relations.descriptors and relations.stubs live below relations/ (links)
        os.path.dirname(module.__file__) + os.sep
        for name in ("relations",)
        if (module := sys.modules.get(name)) is not None and module.__file__
    ]
    index = next(
        (i for i, f in enumerate(frames) if any(f.filename.startswith(lib) for lib in libraries)), None
    )
    if index is None:
        return ""
    index -= 1
    while index >= 0 and frames[index].filename.endswith(_PLUMBING):
        index -= 1
    if index < 0:
        return ""
    frame = frames[index]
    if RUNTESTS_DIR and frame.filename.startswith(RUNTESTS_DIR):
        return "test"
    path = frame.filename.replace(os.sep, "/")
    if "/django/" in path:
        return f"django:{'django/' + path.rsplit('/django/', 1)[1]}:{frame.name}"
    return f"python:{os.path.basename(path)}:{frame.name}"


class RecordingResult(unittest.TextTestResult):
    """A TextTestResult that also keeps every test's outcome by test id."""

    _order = {
        "success": 0,
        "skip": 1,
        "expected failure": 1,
        "unexpected success": 2,
        "failure": 3,
        "error": 4,
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.outcomes: dict[str, str] = {}
        self.details: dict[str, dict[str, Any]] = {}

    def _record(self, test: Any, outcome: str, err: Any = None) -> None:
        test_id = test.id()
        previous = self.outcomes.get(test_id)
        if previous is not None and self._order[previous] > self._order[outcome]:
            return
        self.outcomes[test_id] = outcome
        if err is not None and outcome in ("failure", "error"):
            try:
                self.details[test_id] = _describe_error(err)
            except Exception as exc:  # never lose the outcome over a description
                self.details[test_id] = {"type": "?", "message": f"(could not describe: {exc!r})"}

    def addSuccess(self, test: Any) -> None:  # noqa: N802 (unittest API)
        super().addSuccess(test)
        self._record(test, "success")

    def addError(self, test: Any, err: Any) -> None:  # noqa: N802 (unittest API)
        super().addError(test, err)
        self._record(test, "error", err)

    def addFailure(self, test: Any, err: Any) -> None:  # noqa: N802 (unittest API)
        super().addFailure(test, err)
        self._record(test, "failure", err)

    def addSkip(self, test: Any, reason: str) -> None:  # noqa: N802 (unittest API)
        super().addSkip(test, reason)
        self._record(test, "skip")

    def addExpectedFailure(self, test: Any, err: Any) -> None:  # noqa: N802 (unittest API)
        super().addExpectedFailure(test, err)
        self._record(test, "expected failure")

    def addUnexpectedSuccess(self, test: Any) -> None:  # noqa: N802 (unittest API)
        super().addUnexpectedSuccess(test)
        self._record(test, "unexpected success")

    def addSubTest(self, test: Any, subtest: Any, err: Any) -> None:  # noqa: N802 (unittest API)
        super().addSubTest(test, subtest, err)
        if err is not None:
            failed = issubclass(err[0], test.failureException)
            self._record(test, "failure" if failed else "error", err)


def _relation_descriptor_classes() -> tuple[type, ...]:
    from django.apps import apps
    from django.db.models.fields.related_descriptors import (
        ForwardManyToOneDescriptor,
        ReverseManyToOneDescriptor,
        ReverseOneToOneDescriptor,
    )

    classes: list[type] = [ForwardManyToOneDescriptor, ReverseOneToOneDescriptor, ReverseManyToOneDescriptor]
    if apps.is_installed("django.contrib.contenttypes"):
        from django.contrib.contenttypes import fields

        classes.append(getattr(fields, "GenericForeignKeyDescriptor", fields.GenericForeignKey))
    return tuple(classes)


def installation_report() -> dict[str, Any]:
    """Relation descriptors on every model of the run, and which ones are strict."""
    import sys

    from django.apps import apps

    relation_classes = _relation_descriptor_classes()
    strict: Counter[str] = Counter()
    plain: list[str] = []
    total = 0
    models = apps.get_models(include_auto_created=True, include_swapped=True)
    for model in models:
        for name, attr in vars(model).items():
            if not isinstance(attr, relation_classes):
                continue
            total += 1
            cls = type(attr)
            if cls.__module__.startswith("relations.descriptors."):
                strict[cls.__name__] += 1
            else:
                plain.append(f"{model._meta.label}.{name} ({cls.__name__})")
    samples = {}
    for label, attr in (
        ("many_to_one.Article", "reporter"),
        ("many_to_one.Reporter", "article_set"),
        ("one_to_one.Restaurant", "place"),
        ("many_to_many.Article", "publications"),
        ("generic_relations.TaggedItem", "content_object"),
        ("model_inheritance.Restaurant", "place_ptr"),
    ):
        try:
            model = apps.get_model(label)
        except LookupError:
            continue
        samples[f"{label}.{attr}"] = type(model.__dict__[attr]).__name__
    return {
        "models": len(models),
        "relation_descriptors": total,
        "strict": sum(strict.values()),
        "strict_by_class": dict(strict),
        "not_strict": plain,
        "samples": samples,
        "relations_app_installed": apps.is_installed("relations"),
        "relations_imported": "relations" in sys.modules,
    }


class SuiteRunner(DiscoverRunner):
    """Django's DiscoverRunner, recording outcomes and the descriptor installation."""

    def get_resultclass(self) -> Any:
        return super().get_resultclass() or RecordingResult

    def build_suite(self, *args: Any, **kwargs: Any) -> Any:
        suite = super().build_suite(*args, **kwargs)
        self._installation = installation_report()  # every test module is imported now
        return suite

    def run_suite(self, suite: Any, **kwargs: Any) -> Any:
        result = super().run_suite(suite, **kwargs)
        _flush()
        if OUT:
            data = {
                "installation": getattr(self, "_installation", {}),
                "tests_run": result.testsRun,
                "outcomes": getattr(result, "outcomes", {}),
                "details": getattr(result, "details", {}),
            }
            with open(os.path.join(OUT, "result.json"), "w") as f:
                json.dump(data, f, indent=1, sort_keys=True)
        return result
