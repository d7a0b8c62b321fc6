"""Test runner for the third-party suites: every test's outcome, and who read what.

``Runner`` is Django's ``DiscoverRunner`` with ``tests/django_suite``'s recording
result class.  For a failure caused by ``RelationNotLoaded`` it also records the
*reader*: the innermost frame of the traceback outside this library, Django and the
standard library, as ``"app:<path>:<line>"`` when it is the installed package's own
code (in ``THIRDPARTY_SITE``, the runner's ``--target`` directory) and
``"test:<path>:<line>"`` when it is the test code.  The outcomes go to
``$THIRDPARTY_OUT/result.json``.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from typing import Any

from django.test.runner import DiscoverRunner
from django_suite_hook import RecordingResult

OUT = os.environ.get("THIRDPARTY_OUT", "")
SITE = os.path.realpath(os.environ.get("THIRDPARTY_SITE", "/nonexistent")) + os.sep
TESTS = os.path.realpath(os.environ.get("RUNTESTS_DIR", "/nonexistent")) + os.sep
_LIBRARY = os.environ.get("THIRDPARTY_LIBRARY", "/nonexistent")
_SKIP = (
    os.path.realpath(os.path.join(_LIBRARY, "relations")) + os.sep,
    os.path.realpath(os.path.join(_LIBRARY, "descriptors")) + os.sep,
)
_FRAMEWORK = (os.sep + "django" + os.sep, os.sep + "asgiref" + os.sep)
_STDLIB = os.path.dirname(os.__file__) + os.sep


def _reader(exc: BaseException) -> str:
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        path = os.path.realpath(frame.filename)
        if path.startswith(SITE):
            package_path = path[len(SITE) :]
            if not package_path.startswith(("django" + os.sep, "asgiref" + os.sep)):
                return f"app:{package_path}:{frame.lineno}"
            continue
        if (
            path.startswith(_SKIP)
            or any(part in path for part in _FRAMEWORK)
            or (path.startswith(_STDLIB) and "-packages" not in path)
        ):
            continue
        where = path[len(TESTS) :] if path.startswith(TESTS) else path
        return f"test:{where}:{frame.lineno}"
    return ""


class ReaderResult(RecordingResult):
    def _record(self, test: Any, outcome: str, err: Any = None) -> None:
        super()._record(test, outcome, err)
        detail = self.details.get(test.id())
        exc = err[1] if err is not None else None
        while detail is not None and isinstance(exc, BaseException):
            if type(exc).__name__ == "RelationNotLoaded":
                detail["reader"] = _reader(exc)
                break
            exc = exc.__cause__ or exc.__context__


def _strict_descriptors() -> tuple[int, int]:
    from django.apps import apps
    from django.db.models.fields.related_descriptors import (
        ForwardManyToOneDescriptor,
        ReverseManyToOneDescriptor,
        ReverseOneToOneDescriptor,
    )

    kinds = (ForwardManyToOneDescriptor, ReverseOneToOneDescriptor, ReverseManyToOneDescriptor)
    total = strict = 0
    for model in apps.get_models(include_auto_created=True):
        for attr in vars(model).values():
            if isinstance(attr, kinds):
                total += 1
                strict += type(attr).__module__.startswith("relations.descriptors")
    return total, strict


class Runner(DiscoverRunner):
    """DiscoverRunner recording outcomes, readers and how many descriptors are strict."""

    def get_resultclass(self) -> Any:
        return super().get_resultclass() or ReaderResult

    def run_suite(self, suite: Any, **kwargs: Any) -> Any:
        total, strict = _strict_descriptors()
        result = super().run_suite(suite, **kwargs)
        if OUT:
            data = {
                "tests_run": result.testsRun,
                "outcomes": result.outcomes,
                "details": result.details,
                "descriptors": total,
                "strict": strict,
                "relations_imported": "relations" in sys.modules,
            }
            with open(os.path.join(OUT, "result.json"), "w") as f:
                json.dump(data, f, indent=1, sort_keys=True)
        return result
