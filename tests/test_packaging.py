"""The package as a user installs it: a wheel or an editable install in a fresh virtualenv.

A user project of its own, with a top-level ``stubs`` package (``mypy_path = stubs``
is common) and a ``descriptors.py`` module, runs ``manage.py check``, loads a relation
and type-checks ``await book.R("author")``: nothing the library imports at run time may
collide with a user's modules, and mypy must see the package in both kinds of install.

The fresh virtualenvs get Django, mypy and django-stubs from the test run's own
environment through a ``.pth`` path line (no download); the library itself comes only
from the wheel, or from the editable install of a copy of this repository.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    os.environ.get("RELATIONS_TEST_DB", "sqlite") != "sqlite",
    reason="packaging tests use their own SQLite project: they run once per Django version",
)

ROOT = Path(__file__).resolve().parent.parent

SETTINGS = """\
SECRET_KEY = "packaging-test"
INSTALLED_APPS = ["relations", "django.contrib.contenttypes", "django.contrib.auth", "shop"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
"""

MODELS = """\
from django.db import models


class Author(models.Model):
    name = models.CharField(max_length=50)


class Book(models.Model):
    title = models.CharField(max_length=50)
    author = models.ForeignKey(Author, models.CASCADE, related_name="books")
"""

MANAGE = """\
import os, sys
if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
    from django.core.management import execute_from_command_line
    execute_from_command_line(sys.argv)
"""

TYPED = """\
from shop.models import Author, Book


async def show(book: Book, author: Author) -> None:
    reveal_type(await book.R("author"))
    reveal_type(author.R("books"))
"""

SHELL = """\
import relations, stubs, descriptors
from relations import RelationNotLoaded, mode
from shop.models import Author, Book
a = Author.objects.create(name="Ada")
Book.objects.create(title="B1", author=a)
book = Book.objects.get()
with mode("raise"):  # the shell itself loads lazily (SHELL_MODE)
    try:
        book.author
    except RelationNotLoaded:
        print("strict: not loaded")
print("loaded:", book.R("author").sync().name, book.author.name)
print("user modules:", stubs.WHO, descriptors.WHO)
print("library from:", relations.__file__)
"""

MYPY_INI = """\
[mypy]
plugins = mypy_django_plugin.main, relations.stubs.mypy_plugin
mypy_path = stubs
[mypy.plugins.django-stubs]
django_settings_module = mysite.settings
"""


def run(args: list[str | Path], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH")}
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env={**environ, **env}, capture_output=True, text=True, timeout=600
    )
    return done


def checked(args: list[str | Path], cwd: Path) -> str:
    done = run(args, cwd)
    assert done.returncode == 0, f"{args}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def fresh_venv(path: Path) -> Path:
    """A virtualenv without pip whose imports fall back to this environment's packages."""
    checked([sys.executable, "-m", "venv", "--without-pip", path], path.parent)
    python = path / "bin" / "python"
    purelib = checked([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], path)
    # A path line, not a site directory: this environment's own .pth files (its editable
    # install of the library) are not processed, so the library comes from the new install.
    (Path(purelib.strip()) / "outer.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def pip_install(python: Path, *args: str | Path) -> None:
    checked(
        [sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", *args], python.parent
    )


def copy_checkout(target: Path) -> Path:
    """The repository's tracked files (links kept as links), as a clean clone has them."""
    files = checked(["git", "ls-files", "-z"], ROOT).split("\0")
    for name in filter(None, files):
        source, dest = ROOT / name, target / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            dest.symlink_to(os.readlink(source))
        elif source.is_file():
            shutil.copy2(source, dest)
    return target


def user_project(path: Path) -> Path:
    """A startproject-like project with its own ``stubs`` package and ``descriptors.py``."""
    files = {
        "manage.py": MANAGE,
        "mysite/__init__.py": "",
        "mysite/settings.py": SETTINGS,
        "shop/__init__.py": "",
        "shop/models.py": MODELS,
        "shop/typed.py": TYPED,
        "stubs/__init__.py": 'WHO = "the project\'s stubs"\n',
        "descriptors.py": 'WHO = "the project\'s descriptors"\n',
        "mypy.ini": MYPY_INI,
    }
    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(textwrap.dedent(text))
    return path


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    checkout = copy_checkout(tmp_path_factory.mktemp("checkout"))
    out = tmp_path_factory.mktemp("wheel")
    checked(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            out,
            checkout,
        ],
        checkout,
    )
    (built,) = out.glob("*.whl")
    return built


def test_wheel_installs_one_top_level_package(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top == {"relations"}
    for module in ("descriptors/to_one.py", "descriptors/py.typed", "stubs/mypy_plugin.py", "stubs/py.typed"):
        assert f"relations/{module}" in names
    assert "relations/py.typed" in names


def check_user_project(python: Path, project: Path, library_root: Path) -> None:
    check = checked([python, "manage.py", "check"], project)
    assert "System check identified no issues" in check
    checked([python, "manage.py", "migrate", "-v", "0", "--run-syncdb"], project)
    out = checked([python, "manage.py", "shell", "-c", SHELL], project)
    assert "strict: not loaded" in out
    assert "loaded: Ada Ada" in out
    assert "user modules: the project's stubs the project's descriptors" in out
    assert f"library from: {library_root}" in out

    typed = run([python, "-m", "mypy", "--no-incremental", "shop/typed.py"], project)
    output = typed.stdout + typed.stderr
    assert "Cannot find implementation or library stub" not in output, output
    assert "cannot find the module" not in output, output
    assert 'Revealed type is "shop.models.Author"' in output, output
    assert 'Revealed type is "relations.stubs._types.RelationLoad[list[shop.models.Book]]"' in output
    assert typed.returncode == 0 and "Success: no issues found" in output, output


def test_wheel_in_a_user_project(wheel: Path, tmp_path: Path) -> None:
    python = fresh_venv(tmp_path / "venv")
    pip_install(python, wheel)
    site = checked(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp_path
    ).strip()
    check_user_project(python, user_project(tmp_path / "project"), Path(site) / "relations")


def test_editable_install_is_visible_to_mypy(tmp_path: Path) -> None:
    checkout = copy_checkout(tmp_path / "checkout")
    python = fresh_venv(tmp_path / "venv")
    pip_install(python, "--no-build-isolation", "-e", checkout)
    check_user_project(python, user_project(tmp_path / "project"), checkout / "relations")
