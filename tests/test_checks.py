"""Django system checks: app order, unreplaced descriptors, the RELATIONS setting."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.apps import apps
from django.core import checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db.models.fields.related_descriptors import ForwardManyToOneDescriptor
from django.test import override_settings

from relations.checks import check_app_order, check_descriptors, check_settings
from tests.testapp.models import Book

ROOT = Path(__file__).resolve().parent.parent


def ids(messages: list[checks.CheckMessage]) -> list[str]:
    return [m.id or "" for m in messages]


def test_the_test_settings_pass_every_check():
    assert checks.run_checks() == []


def test_registered_with_djangos_check_framework():
    registered = checks.registry.registry.get_checks()
    assert {check_app_order, check_descriptors, check_settings} <= set(registered)


# --------------------------------------------------------------------------
# relations.W001


def test_app_not_first_is_a_warning(monkeypatch):
    configs = list(apps.get_app_configs())
    reordered = [configs[1], configs[0], *configs[2:]]
    monkeypatch.setattr(apps, "get_app_configs", lambda: reordered)
    [warning] = check_app_order()
    assert warning.id == "relations.W001"
    assert warning.level == checks.WARNING
    assert warning.msg == f'"relations" is at position 2 in INSTALLED_APPS, after "{configs[1].name}".'
    assert 'Move "relations" to the top of INSTALLED_APPS' in warning.hint


def test_app_missing_from_the_registry_is_silent(monkeypatch):
    configs = [c for c in apps.get_app_configs() if c.name != "relations"]
    monkeypatch.setattr(apps, "get_app_configs", lambda: configs)
    assert check_app_order() == []


def test_no_w001_under_override_settings_without_the_app():
    """A test that counts system-check messages of its own INSTALLED_APPS (django-polymorphic's
    TestErrata.test_system_checks) sees nothing of this library."""
    from django.core.checks import run_checks
    from django.test.utils import override_settings

    with override_settings(INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth"]):
        ids = [m.id for m in run_checks()]
        assert "relations.W001" not in ids
    with override_settings(
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "relations"]
    ):
        [warning] = [m for m in run_checks() if m.id == "relations.W001"]
        assert warning.msg.startswith('"relations" is at position 3 in INSTALLED_APPS')


def test_app_order_in_a_real_project_settings(tmp_path):
    """manage.py check in a project that lists relations after django.contrib.auth."""
    (tmp_path / "late_settings.py").write_text(
        "SECRET_KEY = 'x'\n"
        "INSTALLED_APPS = ['django.contrib.contenttypes', 'django.contrib.auth', 'relations']\n"
        "DATABASES = {'default': {'ENGINE': 'django.db.backends.sqlite3', 'NAME': ':memory:'}}\n"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "django",
            "check",
            "--settings",
            "late_settings",
            "--pythonpath",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=str(ROOT),
        timeout=60,
    )
    assert "relations.W001" in result.stderr, result.stderr
    assert '"relations" is at position 3 in INSTALLED_APPS' in result.stderr
    assert result.returncode == 0  # a warning does not stop manage.py


# --------------------------------------------------------------------------
# relations.W002


def test_unreplaced_descriptor_is_reported():
    descriptor = vars(Book)["author"]
    strict = type(descriptor)
    descriptor.__class__ = ForwardManyToOneDescriptor
    try:
        messages = check_descriptors()
        only_testapp = check_descriptors(app_configs=[apps.get_app_config("testapp")])
        only_auth = check_descriptors(app_configs=[apps.get_app_config("auth")])
    finally:
        descriptor.__class__ = strict
    [warning] = messages
    assert warning.id == "relations.W002"
    assert warning.obj is Book
    assert warning.msg.startswith("The relation testapp.Book.author still has Django's own descriptor")
    assert ids(only_testapp) == ["relations.W002"]
    assert only_auth == []
    assert check_descriptors() == []


# --------------------------------------------------------------------------
# relations.E001 - E004


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"MODE": "lazzy"}, [("relations.E002", "RELATIONS[\"MODE\"] is 'lazzy', which is not a mode.")]),
        (
            {"MODELS": {"testapp.Book": "raisee"}},
            [("relations.E002", "RELATIONS[\"MODELS\"]['testapp.Book']")],
        ),
        (
            {"MODELS": {"testapp.Bok": "lazy"}},
            [("relations.E003", "RELATIONS[\"MODELS\"] names 'testapp.Bok'")],
        ),
        ({"ALLOW_RELATIONS": ["testapp.Bok.author"]}, [("relations.E004", "matches no installed model")]),
        (
            {"ALLOW_RELATIONS": ["testapp.Book.auther"]},
            [("relations.E004", "matches no relation of testapp.Book")],
        ),
        ({"MODE": "lazy", "COLOUR": 1}, [("relations.E001", "Unknown RELATIONS keys: COLOUR.")]),
        ("lazy", [("relations.E001", "RELATIONS must be a dict, got str.")]),
        ({"ALLOW_LOCATIONS": "x.py"}, [("relations.E001", 'RELATIONS["ALLOW_LOCATIONS"] must be a list')]),
    ],
    ids=["mode", "model-mode", "model-label", "allow-model", "allow-relation", "key", "type", "locations"],
)
def test_settings_errors(value, expected):
    with override_settings(RELATIONS=value):
        messages = check_settings()
    assert [(m.id, m.level) for m in messages] == [(id_, checks.ERROR) for id_, _ in expected]
    for message, (_, text) in zip(messages, expected, strict=True):
        assert text in message.msg


def test_settings_hints_suggest_the_right_name():
    with override_settings(
        RELATIONS={
            "MODE": "Lazy",
            "MODELS": {"testapp.Bok": "lazy"},
            "ALLOW_RELATIONS": ["testapp.Book.auther"],
        }
    ):
        messages = {m.id: m for m in check_settings()}
    assert 'Did you mean "lazy"?' in messages["relations.E002"].hint
    assert 'Did you mean "testapp.Book"?' in messages["relations.E003"].hint
    assert 'Did you mean "author"?' in messages["relations.E004"].hint


def test_valid_settings_with_wildcards_pass():
    value = {
        "MODE": "record",
        "MODELS": {"testapp.Book": "lazy", "auth.User": "warn"},
        "ALLOW_RELATIONS": ["testapp.Book.*", "testapp.*.author", "auth.User.groups"],
        "ALLOW_LOCATIONS": ["legacy/*.py", "views.py:12"],
        "REPORT_AT_EXIT": True,
    }
    with override_settings(RELATIONS=value):
        assert check_settings() == []


def test_manage_py_check_fails_on_settings_errors():
    with override_settings(RELATIONS={"MODE": "bogus"}), pytest.raises(SystemCheckError) as exc:
        call_command("check")
    assert "relations.E002" in str(exc.value)
