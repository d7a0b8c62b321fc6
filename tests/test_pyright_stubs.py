"""The pyright stubs: ``manage.py relations_stubs`` output, checked by a real basedpyright run.

basedpyright runs once for the module, over a small project in a temporary
directory: the generated modules, a copy of the test models whose base classes
list the generated ``TypedR`` mixin, and a file of ``reveal_type()`` calls.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import models
from django.db.migrations.state import ModelState
from django.db.migrations.writer import MigrationWriter
from django.test.utils import isolate_apps

import relations
from relations import RelationLoad
from relations.stubs import pyright
from relations.stubs.pyright import PathType, TypedR, relation_paths
from tests.testapp.models import Author, Book, Comment, Place, Profile, Publisher, Restaurant, Tag

pytestmark = pytest.mark.skipif(
    os.environ.get("RELATIONS_TEST_DB") == "postgres",
    reason="static typing only: touches no database, so the SQLite run covers it",
)

REPO = Path(__file__).resolve().parent.parent
LABELS = ("testapp", "auth", "contenttypes")

# (expression, the type basedpyright reveals).  `R` is the generated functional R,
# `book.R(...)` goes through the TypedR mixin the copied models list.
CASES = [
    ('await R(book, "author")', "Author"),
    ('await R(book, "editor")', "Author | None"),
    ('await R(book, "tags")', "list[Tag]"),
    ('R(book, "author").sync()', "Author"),
    ('R(book, "author")', "RelationLoad[Author]"),
    ('await R(author, "books")', "list[Book]"),
    ('await R(author, "profile")', "Profile | None"),
    ('await R(profile, "author")', "Author"),
    ('await R(book, "author__publisher")', "Publisher | None"),
    ('await R(book, "author__books")', "list[Book]"),
    ('await R(book, "tags__books")', "list[Book]"),
    ('await R(book, "comments")', "list[Comment]"),
    ('await R(comment, "target")', "Model | None"),
    ('await R(restaurant, "place_ptr")', "Place"),
    ('await R(restaurant, "owner")', "Author | None"),
    ('await R(place, "restaurant")', "Restaurant | None"),
    ('await R(proxy, "author")', "Author"),
    ('await R(review, "created_by")', "Author | None"),
    ('await R(user, "groups")', "list[Group]"),
    ('await R(permission, "content_type")', "ContentType"),
    ("R(book, name)", "RelationLoad[Any]"),
    ('R(book, "autor")', "RelationLoad[Any]"),
    ('R(book, "author__publisher__authors")', "RelationLoad[Any]"),
    ('await book.R("author")', "Author"),
    ('await book.R("editor")', "Author | None"),
    ('await book.R("tags")', "list[Tag]"),
    ('book.R("editor__publisher").sync()', "Publisher | None"),
    ('await author.R("books")', "list[Book]"),
    ('await restaurant.R("owner")', "Author | None"),
    ('await restaurant.R("place_ptr")', "Place"),
    ('await review.R("book")', "Book"),
    ("book.R(name)", "RelationLoad[Any]"),
]
# With --strict, a literal path that is no relation meets the @deprecated overload.
# (pyright does not report deprecation through an import alias such as `R as strict_R`.)
STRICT_TYPO = 'strict.R(book, "autor")'
STRICT_DYNAMIC = "strict.R(book, name)"

USE_HEADER = """\
from django.contrib.auth.models import Permission, User
from relations_types import R
import relations_types_strict as strict
from tests.testapp.models import Author, Book, BookProxy, Comment, Place, Profile, Restaurant, Review


async def check(
    book: Book,
    author: Author,
    profile: Profile,
    comment: Comment,
    place: Place,
    restaurant: Restaurant,
    proxy: BookProxy,
    review: Review,
    user: User,
    permission: Permission,
    name: str,
) -> None:
"""


def _models_with_mixin() -> str:
    """tests/testapp/models.py with TypedR listed before every direct models.Model base."""
    source = (REPO / "tests" / "testapp" / "models.py").read_text()
    assert source.count("(models.Model):") >= 8
    source = source.replace("(models.Model):", "(TypedR, models.Model):")
    return source.replace(
        "from django.db import models\n",
        "from django.db import models\n\nfrom relations_types import TypedR\n",
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pyright")
    call_command("relations_stubs", *LABELS, output=str(root / "relations_types.py"))
    call_command("relations_stubs", *LABELS, output=str(root / "relations_types_strict.py"), strict=True)
    (root / "tests" / "testapp").mkdir(parents=True)
    (root / "tests" / "__init__.py").write_text("")
    (root / "tests" / "testapp" / "__init__.py").write_text("")
    (root / "tests" / "testapp" / "models.py").write_text(_models_with_mixin())
    lines = [f"    reveal_type({expression})\n" for expression, _ in CASES]
    lines += [f"    reveal_type({STRICT_TYPO})\n", f"    reveal_type({STRICT_DYNAMIC})\n"]
    (root / "use.py").write_text(USE_HEADER + "".join(lines))
    # "all" is basedpyright's strictest mode; the repository root gives `relations`
    # (installed in editable mode, which pyright cannot follow) and nothing else.
    config = {"extraPaths": [str(REPO)], "typeCheckingMode": "all", "reportDeprecated": "error"}
    (root / "pyrightconfig.json").write_text(json.dumps(config))
    return root


@pytest.fixture(scope="module")
def diagnostics(project: Path) -> dict[int, list[dict[str, Any]]]:
    """basedpyright's diagnostics, by 1-based line of use.py; also the generated modules."""
    basedpyright = Path(sys.executable).parent / "basedpyright"
    assert basedpyright.exists(), "basedpyright is a dev dependency: pip install basedpyright"
    result = subprocess.run(
        [
            str(basedpyright),
            "--outputjson",
            "--pythonpath",
            sys.executable,
            "use.py",
            "relations_types.py",
            "relations_types_strict.py",
        ],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = json.loads(result.stdout)
    by_line: dict[int, list[dict[str, Any]]] = {}
    for diagnostic in report["generalDiagnostics"]:
        line = diagnostic["range"]["start"]["line"] + 1 if Path(diagnostic["file"]).name == "use.py" else 0
        by_line.setdefault(line, []).append(diagnostic)
    return by_line


def _line(index: int) -> int:
    return USE_HEADER.count("\n") + 1 + index


@pytest.mark.parametrize(("index", "expression", "expected"), [(i, e, t) for i, (e, t) in enumerate(CASES)])
def test_revealed_type(
    diagnostics: dict[int, list[dict[str, Any]]], index: int, expression: str, expected: str
) -> None:
    found = [(d["severity"], d["message"]) for d in diagnostics.get(_line(index), [])]
    assert found == [("information", f'Type of "{expression}" is "{expected}"')]


def test_strict_flags_literal_typos_only(diagnostics: dict[int, list[dict[str, Any]]]) -> None:
    typo = sorted(diagnostics[_line(len(CASES))], key=lambda d: d["severity"])
    assert [(d["severity"], d.get("rule")) for d in typo] == [
        ("error", "reportDeprecated"),
        ("information", None),
    ]
    assert "not a relation path of this model" in typo[0]["message"]
    assert typo[1]["message"] == f'Type of "{STRICT_TYPO}" is "RelationLoad[Any]"'
    dynamic = diagnostics[_line(len(CASES) + 1)]
    assert [(d["severity"], d["message"]) for d in dynamic] == [
        ("information", f'Type of "{STRICT_DYNAMIC}" is "RelationLoad[Any]"')
    ]


def test_no_other_diagnostics(diagnostics: dict[int, list[dict[str, Any]]]) -> None:
    """The generated modules are clean, and so is every line but the reveal_type() ones."""
    expected_lines = {_line(i) for i in range(len(CASES) + 2)}
    assert {line: d for line, d in diagnostics.items() if line not in expected_lines} == {}


def test_generated_module_at_run_time_is_the_library(project: Path) -> None:
    spec = importlib.util.spec_from_file_location("relations_types_probe", project / "relations_types.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.R is relations.R
    assert module.TypedR is TypedR


@isolate_apps("tests.testapp")
def test_mixin_changes_nothing_at_run_time() -> None:
    class Base(TypedR, models.Model):
        class Meta:
            abstract = True
            app_label = "testapp"

    class Shelf(Base):
        owner = models.ForeignKey(Author, models.CASCADE)

        class Meta:
            app_label = "testapp"

    shelf = Shelf(owner_id=1)
    assert "R" not in vars(TypedR)
    assert isinstance(shelf.R("owner"), RelationLoad)
    assert repr(shelf.R("owner")) == "<RelationLoad Shelf.R('owner')>"
    # A migration records the mixin by the library's stable path, not the generated file's.
    bases = ModelState.from_model(Shelf).bases
    assert bases == (TypedR, models.Model)
    assert MigrationWriter.serialize(TypedR)[0] == "relations.stubs.pyright.TypedR"


def test_path_types() -> None:
    paths = relation_paths(Book)
    assert paths["author"] == PathType(Author, nullable=False, many=False)
    assert paths["editor"] == PathType(Author, nullable=True, many=False)
    assert paths["editor__profile"] == PathType(Profile, nullable=True, many=False)
    assert paths["tags"] == PathType(Tag, nullable=False, many=True)
    assert paths["tags__books"] == PathType(Book, nullable=False, many=True)
    assert paths["author__publisher"] == PathType(Publisher, nullable=True, many=False)
    assert paths["comments__target"] == PathType(None, nullable=False, many=True)
    assert "author__publisher__authors" not in paths
    assert relation_paths(Comment)["target"] == PathType(None, nullable=True, many=False)
    assert relation_paths(Restaurant)["place_ptr"] == PathType(Place, nullable=False, many=False)
    assert relation_paths(Place)["restaurant"] == PathType(Restaurant, nullable=True, many=False)
    # Nothing is followed past a generic foreign key: the model there depends on the data.
    assert not any(path.startswith("target__") for path in relation_paths(Comment, depth=3))
    assert set(relation_paths(Book, depth=1)) == {
        "author",
        "chapters",
        "comments",
        "editor",
        "reviews",
        "tags",
    }


def test_output_is_deterministic_sorted_and_headed() -> None:
    from django.apps import apps

    first = pyright.generate(apps, ["testapp"])
    assert pyright.generate(apps, ["testapp"]) == first
    assert first.startswith(
        "# Generated by `python manage.py relations_stubs testapp` (django-strict-relations).\n"
    )
    # Subclasses come first so that their own overloads win; a proxy adds nothing of its own.
    labels = [line.split("# ")[1] for line in first.splitlines() if line.startswith("    def R(  # ")]
    assert labels.index("testapp.Restaurant") < labels.index("testapp.Place")
    assert "testapp.BookProxy" not in labels
    assert labels == sorted(labels, key=lambda label: (-len(apps.get_model(label).__mro__), label))
    everything = pyright.generate(apps)
    assert "# auth.User\n" in everything and "# contenttypes.ContentType\n" not in first


def test_check_passes_on_a_fresh_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "types.py"
    call_command("relations_stubs", "testapp", output=str(output), depth=1)
    call_command("relations_stubs", "testapp", output=str(output), depth=1, check=True)
    assert f"{output} is up to date." in capsys.readouterr().out


def test_check_fails_on_a_stale_or_missing_file(tmp_path: Path) -> None:
    output = tmp_path / "types.py"
    call_command("relations_stubs", "testapp", output=str(output))
    # Same models, other options: stale too, since the content would differ.
    with pytest.raises(
        CommandError, match=r"is stale: .*run `python manage.py relations_stubs --depth 1 testapp"
    ):
        call_command("relations_stubs", "testapp", output=str(output), depth=1, check=True)
    output.write_text(output.read_text().replace('"editor"', '"editer"'))
    with pytest.raises(CommandError, match="is stale"):
        call_command("relations_stubs", "testapp", output=str(output), check=True)
    with pytest.raises(CommandError, match="does not exist"):
        call_command("relations_stubs", "testapp", output=str(tmp_path / "missing.py"), check=True)


def test_check_exits_non_zero_from_the_command_line(tmp_path: Path) -> None:
    output = tmp_path / "types.py"
    output.write_text("# an old file\n")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "django", "relations_stubs", "testapp", "-o", str(output), "--check"]
    stale = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert stale.returncode == 1
    assert f"CommandError: {output} is stale" in stale.stderr
    written = subprocess.run(command[:-1], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert written.returncode == 0, written.stderr
    fresh = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert (fresh.returncode, fresh.stdout.strip()) == (0, f"{output} is up to date.")


def test_bad_arguments() -> None:
    with pytest.raises(CommandError, match="--depth must be at least 1"):
        call_command("relations_stubs", depth=0, check=True)
    with pytest.raises(CommandError, match="No installed app with label 'nope'"):
        call_command("relations_stubs", "nope", check=True)
