"""pytest plugin for DRF's own test suite: installs django-strict-relations and records outcomes.

Loaded with ``-p relations_drf_hook`` (``run.py`` puts this folder on PYTHONPATH).
DRF's ``tests/conftest.py`` calls ``settings.configure(...)`` and ``django.setup()``
in its ``pytest_configure``; this plugin's runs first and wraps ``configure`` so that
``relations`` comes first in ``INSTALLED_APPS`` with ``RELATIONS["MODE"]`` from
``RELATIONS_DRF_SUITE_MODE`` (``none``: the library is not installed).

With ``RELATIONS_DRF_SUITE_AUTOPLAN=1`` a root serializer's ``.data`` first loads
``plan()`` of itself on its instance(s): what the raise-mode failures would be had
every view loaded its serializer's plan.

Every test's outcome, and for failures whether the text has a ``RelationNotLoaded``
and the fix line naming a plan, go to the JSON file ``RELATIONS_DRF_SUITE_OUT``.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

MODE = os.environ.get("RELATIONS_DRF_SUITE_MODE", "none")
_outcomes: dict[str, dict[str, Any]] = {}


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    if MODE == "none":
        return
    from django.conf import LazySettings

    original = LazySettings.configure

    def configure(self: Any, default_settings: Any = None, **options: Any) -> None:
        options["INSTALLED_APPS"] = ("relations", *options.get("INSTALLED_APPS", ()))
        options["RELATIONS"] = {"MODE": MODE}
        LazySettings.configure = original  # once
        if default_settings is None:
            original(self, **options)
        else:
            original(self, default_settings, **options)

    LazySettings.configure = configure  # type: ignore[method-assign]


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    if MODE != "none" and os.environ.get("RELATIONS_DRF_SUITE_AUTOPLAN") == "1":
        _autoplan()


def _autoplan() -> None:
    from django.db.models import Manager, Model, QuerySet
    from rest_framework import serializers

    from relations import plan, prefetch

    def planned(serializer: Any, instances: Any) -> Any:
        first = instances.model if isinstance(instances, QuerySet) else (instances[0] if instances else None)
        model = first if isinstance(first, type) else type(first)
        if not (isinstance(model, type) and issubclass(model, Model)):
            return instances
        try:
            lookups = plan(serializer, model=model)
        except Exception:  # a serializer plan() cannot read (no model, another model): as DRF
            return instances
        if not lookups:
            return instances
        if isinstance(instances, QuerySet) and instances._result_cache is None:
            return instances.prefetch_related(*lookups)
        # An evaluated queryset keeps its instances (a test may have set attributes on them).
        prefetch([i for i in instances if i.pk is not None], *lookups)  # unsaved: nothing to load
        return instances

    serializer_data = serializers.Serializer.data.fget
    list_data = serializers.ListSerializer.data.fget

    def data(self: Any) -> Any:
        if (
            self.root is self
            and isinstance(getattr(self, "instance", None), Model)
            and not hasattr(self, "_data")
        ):
            planned(self, [self.instance])
        return serializer_data(self)

    def list_data_planned(self: Any) -> Any:
        instance = getattr(self, "instance", None)
        if self.root is self and not hasattr(self, "_data"):
            if isinstance(instance, Manager):
                instance = instance.all()
            models = isinstance(instance, list) and instance and all(isinstance(i, Model) for i in instance)
            if isinstance(instance, QuerySet) or models:
                self.instance = planned(self, instance)
        return list_data(self)

    serializers.Serializer.data = property(data)
    serializers.ListSerializer.data = property(list_data_planned)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    entry = _outcomes.setdefault(report.nodeid, {"outcome": "passed"})
    if report.skipped and report.when in ("setup", "call"):
        entry["outcome"] = "xfailed" if hasattr(report, "wasxfail") else "skipped"
    elif report.failed:
        text = str(report.longrepr)
        entry["outcome"] = "failed" if report.when == "call" else "error"
        entry["not_loaded"] = "RelationNotLoaded" in text or "is not loaded on" in text
        entry["plan_line"] = "whose plan loads it" in text
        entry["query_count"] = "queries executed" in text  # assertNumQueries
    elif report.when == "call" and hasattr(report, "wasxfail"):
        entry["outcome"] = "xpassed"


def pytest_sessionfinish(session: pytest.Session) -> None:
    out = os.environ.get("RELATIONS_DRF_SUITE_OUT")
    if out:
        with open(out, "w") as f:
            json.dump(_outcomes, f, indent=1, sort_keys=True)
