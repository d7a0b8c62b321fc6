"""Reads made by installed third-party packages (``relations.policy.packages``).

A real distribution is installed for the tests: ``tp_bookkeeper`` (a package
directory with its ``.dist-info``, on ``sys.path`` like ``pip install --target``
would leave it) whose functions read relations the way django-guardian's
``BaseObjectPermission.save`` or django-mptt's tree maintenance do.  The
serialization-framework cases use the real Django REST framework and pydantic of
the virtualenv.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

import relations
from relations import RelationNotLoaded, mode
from relations.conf import parse
from relations.policy import callsite
from tests.conftest import queries
from tests.testapp.models import Book

ROOT = Path(__file__).resolve().parent.parent

BOOKKEEPER = """
from django.template import Context, Template


def author_name(book):
    return book.author.name


def author_names(books):
    return [b.author.name for b in books]


def render(source, **context):
    return Template(source).render(Context(context))


def call(function, *args):
    return function(*args)
"""


def _install(root: Path, name: str, *, editable: bool = False) -> None:
    package = root / name
    package.mkdir()
    (package / "__init__.py").write_text(BOOKKEEPER)
    info = root / f"{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "RECORD").write_text(f"{name}/__init__.py,,\n{info.name}/METADATA,,\n")
    if editable:
        (info / "direct_url.json").write_text('{"url": "file:///src", "dir_info": {"editable": true}}')


def _forget_installed() -> None:
    callsite._package_roots.cache_clear()
    callsite.file_package.cache_clear()


@pytest.fixture
def packages(tmp_path: Path) -> Iterator[dict[str, ModuleType]]:
    """``tp_bookkeeper`` installed; ``tp_editable`` installed in editable mode (project code)."""
    _install(tmp_path, "tp_bookkeeper")
    _install(tmp_path, "tp_editable", editable=True)
    sys.path.insert(0, str(tmp_path))
    _forget_installed()
    import tp_bookkeeper  # type: ignore[import-not-found]
    import tp_editable  # type: ignore[import-not-found]

    relations.report(reset=True)
    try:
        yield {"installed": tp_bookkeeper, "editable": tp_editable}
    finally:
        sys.path.remove(str(tmp_path))
        for name in ("tp_bookkeeper", "tp_editable"):
            sys.modules.pop(name, None)
        _forget_installed()
        relations.report(reset=True)


def test_the_classifier_names_installed_packages_only(packages: dict[str, ModuleType]) -> None:
    assert callsite.file_package(packages["installed"].__file__) == "tp_bookkeeper"
    assert callsite.file_package(packages["editable"].__file__) is None  # project code
    assert callsite.file_package(__file__) is None
    assert callsite.file_package(callsite.__file__) is None  # this library
    import json

    import django.db.models.base

    assert callsite.file_package(django.db.models.base.__file__) is None
    assert callsite.file_package(json.__file__) is None
    import rest_framework

    assert callsite.file_package(rest_framework.__file__) == "rest_framework"
    assert callsite.file_package("<string>") is None


# --------------------------------------------------------------------------
# the default rule


def test_a_package_read_on_a_single_instance_loads_and_is_recorded(data, packages):
    book = Book.objects.get(title="B1")  # fetched alone: no peers
    with queries() as q:
        assert packages["installed"].author_name(book) == "Ada"  # raise mode is the default
    assert len(q) == 1
    [site] = relations.report()
    assert site.relation == "testapp.Book.author"
    assert site.package == "tp_bookkeeper"
    assert site.path == packages["installed"].__file__
    assert site.blocked == 0 and site.count == 1
    assert "[tp_bookkeeper]" in relations.report().table()


def test_a_package_read_on_one_of_many_peers_follows_the_mode(data, packages):
    books = list(Book.objects.order_by("pk"))
    with pytest.raises(RelationNotLoaded), queries() as q:
        packages["installed"].author_names(books)
    assert len(q) == 0
    [site] = relations.report()
    assert site.package == "tp_bookkeeper" and site.blocked == 1 and site.n_plus_one
    table = relations.report().table()
    assert "Reads by the installed package 'tp_bookkeeper' were blocked 1 time" in table
    assert """RELATIONS["PACKAGES"] = {'tp_bookkeeper': "lazy"}""" in table


def test_peers_that_are_gone_do_not_count(data, packages):
    book = next(iter(list(Book.objects.order_by("pk"))))  # the other three are garbage now
    assert packages["installed"].author_name(book) == "Ada"


def test_user_code_stays_strict_even_on_a_single_instance(data, packages):
    book = Book.objects.get(title="B1")
    with pytest.raises(RelationNotLoaded):
        book.author  # noqa: B018
    with pytest.raises(RelationNotLoaded):
        packages["editable"].author_name(book)  # an editable install is the project's own code


def test_the_users_function_called_by_a_package_is_the_users_read(data, packages):
    book = Book.objects.get(title="B1")
    with pytest.raises(RelationNotLoaded):
        packages["installed"].call(lambda b: b.author, book)


def test_a_template_rendered_by_a_package_is_the_users_read(data, packages):
    book = Book.objects.get(title="B1")
    with pytest.raises(RelationNotLoaded):
        packages["installed"].render("{{ book.author.name }}", book=book)


def test_lazy_mode_records_nothing(data, packages):
    book = Book.objects.get(title="B1")
    with mode("lazy"):
        assert packages["installed"].author_name(book) == "Ada"
    assert len(relations.report()) == 0


def test_serialization_frameworks_follow_the_mode_even_for_one_row(data):
    from pydantic import BaseModel, ConfigDict
    from rest_framework import serializers

    class BookSerializer(serializers.ModelSerializer[Book]):
        author_name = serializers.CharField(source="author.name")

        class Meta:
            model = Book
            fields = ["title", "author_name"]

    class AuthorOut(BaseModel):
        model_config = ConfigDict(from_attributes=True)
        name: str

    class BookOut(BaseModel):
        model_config = ConfigDict(from_attributes=True)
        title: str
        author: AuthorOut

    book = Book.objects.get(title="B1")
    with pytest.raises(RelationNotLoaded):
        BookSerializer(book).data  # noqa: B018
    with pytest.raises(ValueError, match=r"RelationNotLoaded: Book\.author is not loaded"):
        BookOut.model_validate(book)  # pydantic wraps it in a ValidationError
    assert {s.package for s in relations.report()} == {"rest_framework", "pydantic"}
    with mode("lazy"):
        assert BookSerializer(book).data["author_name"] == "Ada"


# --------------------------------------------------------------------------
# RELATIONS["PACKAGES"]


def test_packages_setting_lazy_loads_every_read_of_the_package(data, packages):
    books = list(Book.objects.order_by("pk"))
    with override_settings(RELATIONS={"PACKAGES": {"tp_bookkeeper": "lazy"}}), queries() as q:
        assert packages["installed"].author_names(books) == ["Ada", "Ada", "Bob", "Cy"]
        with pytest.raises(RelationNotLoaded):
            books[0].editor  # noqa: B018  (the user's own reads stay strict)
    assert len(q) == 4
    assert len(relations.report()) == 1  # only the user's blocked read


def test_packages_setting_raise_blocks_single_instance_reads(data, packages):
    book = Book.objects.get(title="B1")
    settings = {"PACKAGES": {"tp_bookkeeper": "raise"}}
    with override_settings(RELATIONS=settings), pytest.raises(RelationNotLoaded):
        packages["installed"].author_name(book)


def test_packages_setting_raise_under_a_lazy_default(data, packages):
    book = Book.objects.get(title="B1")
    settings = {"MODE": "lazy", "PACKAGES": {"tp_bookkeeper": "raise"}}
    with override_settings(RELATIONS=settings):
        assert book.editor.name == "Bob"  # the user's read: lazy
        with pytest.raises(RelationNotLoaded):
            packages["installed"].author_name(book)


def test_a_mode_block_wins_over_the_packages_setting(data, packages):
    book = Book.objects.get(title="B1")
    with override_settings(RELATIONS={"PACKAGES": {"tp_bookkeeper": "raise"}}), mode("lazy"):
        assert packages["installed"].author_name(book) == "Ada"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (["guardian"], 'RELATIONS["PACKAGES"] must map a top-level package name'),
        ({"django-guardian": "lazy"}, "key 'django-guardian' is not a top-level package name"),
        ({"guardian": "lazzy"}, """RELATIONS["PACKAGES"]['guardian'] is 'lazzy'; expected one of"""),
    ],
)
def test_bad_packages_settings_are_clear_errors(value: Any, message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=None) as info:
        parse({"PACKAGES": value})
    assert message in str(info.value)


def test_packages_setting_in_the_system_checks() -> None:
    from relations.checks import check_settings

    with override_settings(RELATIONS={"PACKAGES": {"rest_framework": "raise", "no_such_pkg": "lazy"}}):
        [warning] = check_settings()
    assert warning.id == "relations.W003" and "'no_such_pkg'" in warning.msg
    with override_settings(RELATIONS={"PACKAGES": {"rest_framework": "lazzy"}}):
        [error] = check_settings()
    assert error.id == "relations.E002" and 'Did you mean "lazy"?' in error.hint


def test_a_user_project_with_an_installed_package(tmp_path: Path) -> None:
    """As a user runs it: ``manage.py shell -c`` in a project whose settings say raise."""
    site = tmp_path / "site-packages"
    site.mkdir()
    _install(site, "tp_bookkeeper")
    (tmp_path / "proj_settings.py").write_text(
        textwrap.dedent(
            f"""
            SECRET_KEY = "x"
            INSTALLED_APPS = ["relations", "django.contrib.contenttypes", "django.contrib.auth",
                              "tests.testapp", "tests.fieldtypes"]
            DATABASES = {{"default": {{"ENGINE": "django.db.backends.sqlite3",
                                       "NAME": {str(tmp_path / "db.sqlite3")!r}}}}}
            DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
            RELATIONS = {{"MODE": "raise", "SHELL_MODE": None}}  # the shell follows MODE
            """
        )
    )
    script = textwrap.dedent(
        """
        import relations, tp_bookkeeper
        from tests.testapp.models import Author, Book
        a = Author.objects.create(name="Ada")
        Book.objects.create(title="B1", author=a); Book.objects.create(title="B2", author=a)
        print("single:", tp_bookkeeper.author_name(Book.objects.get(title="B1")))
        try:
            tp_bookkeeper.author_names(list(Book.objects.all()))
        except relations.RelationNotLoaded:
            print("many: blocked")
        print(relations.report().table())
        """
    )
    env = {"PYTHONPATH": f"{tmp_path}{':'}{site}{':'}{ROOT}", "PATH": "/usr/bin:/bin"}
    run = [sys.executable, "-m", "django"]
    common = ["--settings", "proj_settings"]
    subprocess.run([*run, "migrate", "-v0", *common], check=True, env=env, cwd=tmp_path, timeout=120)
    result = subprocess.run(
        [*run, "shell", "-c", script, *common],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "single: Ada" in result.stdout
    assert "many: blocked" in result.stdout
    assert "[tp_bookkeeper]" in result.stdout
    assert "Reads by the installed package 'tp_bookkeeper' were blocked 1 time" in result.stdout
