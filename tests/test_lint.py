"""The static lint: precision and recall on the labelled corpus, the command line,
model methods, pragmas, and the example bookstore end to end.

The corpus (``tests/lint_corpus/case_*.py``) labels each line that must be
reported with ``# expect: CODE``; every top-level function or method is a case
(helpers marked ``# corpus: helper`` are parts of other cases).  Precision and
recall are measured per reported line and per case, printed, and held to the
minimums below, which are what the lint achieves (the misses are the known
limits in ``case_hard.py`` and one conditional branch that replaces a queryset).
"""

from __future__ import annotations

import ast
import inspect
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.db import connection, models
from django.test.utils import CaptureQueriesContext, isolate_apps

from relations import RelationNotLoaded, mode
from relations.lint import CODES, Finding, lint_paths, lint_source
from relations.lint.models import ModelIndex
from tests.testapp.models import Author, Book, Publisher, Tag

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "lint_corpus"
EXAMPLE = ROOT / "example"

# What the lint achieves on the corpus; a regression fails the test.
MIN_LINE_PRECISION = 1.0
MIN_LINE_RECALL = 0.9
MIN_CASE_PRECISION = 1.0
MIN_CASE_RECALL = 0.9
MIN_CASES = 40


@dataclass(frozen=True)
class Case:
    path: str
    name: str
    first: int
    last: int


def corpus() -> tuple[dict[tuple[str, int], str], list[Case]]:
    """(expected code by (path, line), the cases)."""
    expected: dict[tuple[str, int], str] = {}
    cases: list[Case] = []
    for path in sorted(CORPUS.glob("case_*.py")):
        rel = os.path.relpath(path, ROOT)
        lines = path.read_text().splitlines()
        for number, text in enumerate(lines, 1):
            match = re.search(r"# expect: (REL\d{3})", text)
            if match:
                expected[(rel, number)] = match.group(1)
        tree = ast.parse(path.read_text())
        functions = []
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                functions.append(node)
            elif isinstance(node, ast.ClassDef):
                functions.extend(
                    n for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                )
        for node in functions:
            if "# corpus: helper" not in lines[node.lineno - 1]:
                cases.append(Case(rel, node.name, node.lineno, node.end_lineno or node.lineno))
    return expected, cases


def ratio(part: int, whole: int) -> float:
    return part / whole if whole else 1.0


def test_precision_and_recall_on_the_corpus(db, capsys):
    old = os.getcwd()
    os.chdir(ROOT)
    try:
        findings = lint_paths([os.path.relpath(CORPUS, ROOT)])
    finally:
        os.chdir(old)
    expected, cases = corpus()
    assert len(cases) >= MIN_CASES
    found = {(f.path, f.line): f.code for f in findings}
    true_lines = {k for k, code in found.items() if expected.get(k) == code}
    false_lines = set(found) - true_lines
    missed_lines = set(expected) - true_lines

    def inside(case: Case, keys: set[tuple[str, int]] | dict[tuple[str, int], str]) -> bool:
        return any(path == case.path and case.first <= line <= case.last for path, line in keys)

    problems = [c for c in cases if inside(c, expected)]
    flagged = [c for c in cases if inside(c, found)]
    right = [c for c in flagged if c in problems and inside(c, true_lines)]
    line_p, line_r = ratio(len(true_lines), len(found)), ratio(len(true_lines), len(expected))
    case_p, case_r = ratio(len(right), len(flagged)), ratio(len(right), len(problems))
    with capsys.disabled():
        print(
            f"\nlint corpus: {len(cases)} cases ({len(problems)} with problems, {len(cases) - len(problems)} "
            f"correct), {len(expected)} labelled lines\n"
            f"  lines: {len(true_lines)} true, {len(false_lines)} false, {len(missed_lines)} missed: "
            f"precision {line_p:.3f}, recall {line_r:.3f}\n"
            f"  cases: {len(right)} of {len(flagged)} flagged are problems, {len(right)} of {len(problems)} "
            f"problems flagged: precision {case_p:.3f}, recall {case_r:.3f}\n"
            f"  missed: {', '.join(f'{p}:{n}' for p, n in sorted(missed_lines)) or 'none'}"
        )
    assert not false_lines, [f.format() for f in findings if (f.path, f.line) in false_lines]
    assert line_p >= MIN_LINE_PRECISION and line_r >= MIN_LINE_RECALL
    assert case_p >= MIN_CASE_PRECISION and case_r >= MIN_CASE_RECALL
    # Every code is exercised.
    assert set(found.values()) == set(CODES)


# --------------------------------------------------------------------------
# Single sources


def lint(source: str, index: ModelIndex | None = None) -> list[tuple[int, str]]:
    return [(f.line, f.code) for f in lint_source("/tmp/snippet.py", source, index)]


def test_pragma_silences_one_line(db):
    source = (
        "from tests.testapp.models import Book\n"
        "def f():\n"
        "    a = [b.author for b in Book.objects.all()]  # relations: ignore\n"
        "    b = [b.author for b in Book.objects.all()]  # relations: ignore[REL001]\n"
        "    c = [b.author for b in Book.objects.all()]  # relations: ignore[REL002]\n"
        "    d = [b.author for b in Book.objects.all()]\n"
        "    return a, b, c, d\n"
    )
    assert lint(source) == [(5, "REL001"), (6, "REL001")]


def test_finding_format_and_message(db):
    source = (
        "from tests.testapp.models import Book\n\nnames = [b.author.publisher for b in Book.objects.all()]\n"
    )
    [author, publisher] = lint_source("/tmp/mod.py", source)
    assert author.format() == (
        "/tmp/mod.py:3:10 REL001 N+1: Book.author is read once per item of the loop, and the query does "
        'not load it; add .select_related("author") to the query (or prefetch() the list)'
    )
    assert publisher.relation == "testapp.Author.publisher"
    assert '.select_related("author__publisher")' in publisher.message


def test_settings_allow_lists_accept_n_plus_ones_but_not_async_reads(db, settings):
    source = (
        "from tests.testapp.models import Book\n"
        "def loop():\n"
        "    return [(b.author, b.editor) for b in Book.objects.all()]\n"
        "async def view():\n"
        "    return [b.author async for b in Book.objects.all()]\n"
    )
    assert lint(source) == [(3, "REL001"), (3, "REL001"), (5, "REL002")]
    settings.RELATIONS = {"ALLOW_RELATIONS": ["testapp.Book.author"]}
    assert lint(source) == [(3, "REL001"), (5, "REL002")]
    settings.RELATIONS = {"ALLOW_LOCATIONS": ["/tmp/snippet.py:3"]}
    assert lint(source) == [(5, "REL002")]


def test_unknown_models_and_syntax_are_silent(db):
    assert lint("from elsewhere import Book\nx = [b.author for b in Book.objects.all()]\n") == []
    assert lint("def f(books):\n    return [b.author for b in books]\n") == []
    assert lint("x = [b.author for b in undefined.objects.all()]\n") == []


@isolate_apps("tests.testapp")
def test_model_methods_properties_and_str_are_followed(db):
    class Shelf(models.Model):
        name = models.CharField(max_length=10)

        class Meta:
            app_label = "testapp"

    class Volume(models.Model):
        shelf = models.ForeignKey(Shelf, models.CASCADE)

        class Meta:
            app_label = "testapp"

        def label(self):
            return f"on {self.shelf.name}"

        @property
        def shelf_name(self):
            return self.shelf.name

        def plain(self):
            return self.pk

        def __str__(self):
            return str(self.shelf)

    index = ModelIndex(models=[Shelf, Volume])
    source = (
        "from tests.test_lint import Volume\n"
        "def methods():\n"
        "    return [v.label() for v in Volume.objects.all()]\n"
        "def properties():\n"
        "    return [v.shelf_name for v in Volume.objects.all()]\n"
        "def dunder_str():\n"
        "    return [str(v) for v in Volume.objects.all()], [f'{v}' for v in Volume.objects.all()]\n"
        "def loaded():\n"
        "    return [(v.label(), v.shelf_name, str(v)) for v in Volume.objects.select_related('shelf')]\n"
        "def no_reads():\n"
        "    return [v.plain() for v in Volume.objects.all()]\n"
    )
    findings = lint_source("/tmp/volumes.py", source, index)
    assert [(f.line, f.code) for f in findings] == [
        (3, "REL003"),
        (5, "REL003"),
        (7, "REL003"),
        (7, "REL003"),
    ]
    assert "label() reads Volume.shelf" in findings[0].message
    assert __file__ in findings[0].message  # the method is in another file: its path:line


# --------------------------------------------------------------------------
# The command line


def cli(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "relations", *args],
        capture_output=True,
        text=True,
        cwd=str(cwd),
        env=environment,
        timeout=120,
    )


def test_cli_text_output_and_exit_status():
    result = cli("lint", "tests/lint_corpus/case_loops.py", "--settings", "tests.settings")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines
    assert all(re.match(r"tests/lint_corpus/case_loops\.py:\d+:\d+ REL00[123] ", line) for line in lines), (
        lines
    )
    assert result.stderr.strip().startswith(f"Found {len(lines)} relation read")


def test_cli_json_and_select():
    result = cli(
        "lint",
        "tests/lint_corpus/case_async.py",
        "--settings",
        "tests.settings",
        "--format",
        "json",
        "--select",
        "REL003",
    )
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert data and {d["code"] for d in data} == {"REL003"}
    assert set(data[0]) == {"path", "line", "col", "code", "message", "relation"}


def test_cli_clean_file_exits_zero():
    result = cli("lint", "tests/lint_corpus/case_helpers_lib.py", "--settings", "tests.settings")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_cli_settings_from_the_environment_and_exit_zero():
    result = cli(
        "lint",
        "tests/lint_corpus/case_loops.py",
        "--exit-zero",
        env={"DJANGO_SETTINGS_MODULE": "tests.settings"},
    )
    assert result.returncode == 0 and result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("lint", "tests"), "no Django settings"),
        (("lint", "nowhere.py", "--settings", "tests.settings"), "no such file or directory: nowhere.py"),
        (("lint", "tests/lint_corpus", "--settings", "no_such_settings"), "could not set Django up"),
        (
            ("lint", "tests/lint_corpus", "--settings", "tests.settings", "--select", "X1"),
            "unknown codes: X1",
        ),
        (("frobnicate",), "unknown command 'frobnicate'"),
    ],
)
def test_cli_usage_errors(args, message):
    result = cli(*args)
    assert result.returncode == 2
    assert message in result.stderr


def test_cli_help():
    result = cli()
    assert result.returncode == 2 and "usage: python -m relations lint" in result.stdout


# --------------------------------------------------------------------------
# The example bookstore, end to end


def test_example_project_planted_n_plus_one_is_found_and_the_fix_is_clean():
    reports = EXAMPLE / "bookstore" / "shop" / "reports.py"
    result = cli(
        "lint",
        "bookstore/shop/reports.py",
        "--settings",
        "bookstore.settings",
        "--pythonpath",
        ".",
        cwd=EXAMPLE,
    )
    assert result.returncode == 1
    lines = reports.read_text().splitlines()
    naive = next(i for i, t in enumerate(lines, 1) if "book.author.name" in t and "order_by" in t)
    assert result.stdout.splitlines() == [
        f"bookstore/shop/reports.py:{naive}:32 REL001 N+1: Book.author is read once per item of the loop, "
        'and the query does not load it; add .select_related("author") to the query (or prefetch() the list)'
    ]
    tree = ast.parse(reports.read_text())
    fixed = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "catalogue")
    assert not fixed.lineno <= naive <= (fixed.end_lineno or 0)


def test_findings_are_plain_values():
    finding = Finding("a.py", 1, 2, "REL001", "m", "Book.author")
    assert finding.as_dict()["relation"] == "Book.author"
    assert finding.format() == "a.py:1:2 REL001 m"


# --------------------------------------------------------------------------
# Peers: R() on one instance of a result loads the whole result


PEERS_CASES = CORPUS / "case_peers.py"


def labelled(path: Path, label: str) -> set[tuple[int, str]]:
    return {
        (number, match.group(1))
        for number, text in enumerate(path.read_text().splitlines(), 1)
        if (match := re.search(rf"# {label}: (REL\d{{3}})", text))
    }


def test_peer_loads_follow_the_peers_setting(db, settings):
    source = PEERS_CASES.read_text()
    expected = labelled(PEERS_CASES, "expect")
    without_peers = labelled(PEERS_CASES, "without peers")
    assert len(expected) >= 10 and len(without_peers) >= 15
    assert set(lint(source)) == expected  # the default: PEERS on
    settings.RELATIONS = {"PEERS": False}
    assert set(lint(source)) == expected | without_peers  # every R() loads only its own instance


ISSUE_SNIPPET = (
    "from tests.testapp.models import Book\n"
    "\n"
    "def names():\n"
    "    books = list(Book.objects.all())\n"
    '    books[0].R("author").sync()\n'
    "    return [b.author.name for b in books]\n"
)


def test_cli_reads_the_peers_setting_of_the_project(tmp_path):
    (tmp_path / "views.py").write_text(ISSUE_SNIPPET)
    (tmp_path / "nopeers.py").write_text(
        'from tests.settings import *  # noqa: F403\n\nRELATIONS = {"PEERS": False}\n'
    )
    on = cli("lint", str(tmp_path / "views.py"), "--settings", "tests.settings")
    assert (on.returncode, on.stdout, on.stderr) == (0, "", "")
    off = cli("lint", str(tmp_path / "views.py"), "--settings", "nopeers", "--pythonpath", str(tmp_path))
    assert off.returncode == 1
    assert off.stdout.splitlines() == [
        f"{tmp_path / 'views.py'}:6:13 REL001 N+1: Book.author is read once per item of the loop, and the "
        'query does not load it; add .select_related("author") to the query (or prefetch() the list)'
    ]


def _add_books(start: int, stop: int) -> None:
    for i in range(start, stop):
        publisher = Publisher.objects.create(name=f"P{i}")
        author = Author.objects.create(name=f"W{i}", publisher=publisher)
        book = Book.objects.create(title=f"A{i}", author=author, editor=author)
        book.tags.add(Tag.objects.create(name=f"t{i}"))


def _peer_case_functions() -> list[tuple[str, int]]:
    """(name, line) of every case of case_peers.py, helpers left out."""
    lines = PEERS_CASES.read_text().splitlines()
    tree = ast.parse(PEERS_CASES.read_text())
    return [
        (node.name, node.lineno)
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and "# corpus: helper" not in lines[node.lineno - 1]
    ]


def _run_case(func: Any) -> tuple[int, bool]:
    """(queries, raised RelationNotLoaded) of one run of a corpus case, in lazy mode."""
    args = [False] * len(inspect.signature(func).parameters)
    with CaptureQueriesContext(connection) as queries, mode("lazy"):
        try:
            if inspect.iscoroutinefunction(func):
                async_to_sync(func)(*args)
            else:
                func(*args)
        except RelationNotLoaded:
            return len(queries), True
    return len(queries), False


@pytest.mark.parametrize("peers", [True, False], ids=["peers", "no-peers"])
def test_peer_case_labels_match_what_the_runtime_does(db, settings, peers):
    """Run every peers case on 2 and then 4 books: a case labelled N+1 (with peers off,
    the ``without peers`` labels too) costs more queries with more books (in async
    code: raises), an unlabelled one costs the same."""
    from tests.lint_corpus import case_peers

    settings.RELATIONS = {"PEERS": peers}
    expected = labelled(PEERS_CASES, "expect") | (set() if peers else labelled(PEERS_CASES, "without peers"))
    cases = _peer_case_functions()
    ends = [line for _, line in cases[1:]] + [10**9]
    _add_books(0, 2)
    small = {name: _run_case(getattr(case_peers, name)) for name, _ in cases}
    _add_books(2, 4)
    large = {name: _run_case(getattr(case_peers, name)) for name, _ in cases}
    wrong = []
    for (name, first), end in zip(cases, ends, strict=True):
        n_plus_one = any(first <= line < end for line, _ in expected)
        if inspect.iscoroutinefunction(getattr(case_peers, name)):
            behaves = large[name][1] == n_plus_one
        else:
            grows = large[name][0] > small[name][0]
            behaves = grows == n_plus_one and not large[name][1]
        if not behaves:
            wrong.append((name, n_plus_one, small[name], large[name]))
    assert not wrong
