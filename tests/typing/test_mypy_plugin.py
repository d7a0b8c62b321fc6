"""The mypy plugin (relations.stubs.mypy_plugin) on django-stubs: every case line's output, exactly.

mypy with django-stubs is slow (a cold run analyses Django's stubs: 10-20 s), so the
case files are checked by ONE mypy run per plugin order for the whole module (two on
mypy < 1.19, see PLUGIN_CODES_IN_CONFIG), in subprocesses (their own ``django.setup()``
with ``tests.typing.settings``) with caches under pytest's tmp dir.  Each case line is
then its own test item.

The typing tests do not touch a database, so they run on the SQLite leg of
``scripts/test.sh`` only: once per Django version, skipped on the PostgreSQL legs.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    os.environ.get("RELATIONS_TEST_DB", "sqlite") != "sqlite",
    reason="typing tests use no database: they run once per Django version, on the SQLite leg",
)

ROOT = Path(__file__).resolve().parents[2]
CASE_FILES = ("tests/typing/cases_r.py", "tests/typing/cases_loaded.py")
DJANGO_PLUGIN = "mypy_django_plugin.main"
OUR_PLUGIN = "relations.stubs.mypy_plugin"
# Modules the case files import: analysed, but their own errors are not the subject here.
NOT_UNDER_TEST = "relations.*,tests.*"
EXPECTATION = re.compile(r"^\s*# ([REN]): (.*)$")
OUTPUT = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): (?P<level>error|note): (?P<message>.*)$")

Outputs = dict[tuple[str, int], list[str]]


def mypy_version() -> tuple[int, int]:
    from mypy.version import __version__

    major, minor = __version__.split(".")[:2]
    return int(major), int(minor)


# mypy < 1.19 rejects plugin error codes in enable_error_code (python/mypy#19719): there the
# plugin's own switch enables tracking for a whole run, so the two case files run apart.
PLUGIN_CODES_IN_CONFIG = mypy_version() >= (1, 19)


def config(plugins: str, track_loaded_option: bool = False) -> str:
    """The configuration a user copies, plus the test's own settings and scoping."""
    enable = "enable_error_code = relation-not-loaded\n" if PLUGIN_CODES_IN_CONFIG else ""
    option = "[mypy.plugins.django-strict-relations]\ntrack_loaded = true\n" if track_loaded_option else ""
    return (
        "[mypy]\n"
        f"plugins = {plugins}\n"
        "python_version = 3.11\n"
        "[mypy.plugins.django-stubs]\n"
        "django_settings_module = tests.typing.settings\n"
        f"{option}"
        f"[mypy-{NOT_UNDER_TEST}]\n"
        "ignore_errors = True\n"
        # One section per case module: a later section for the same module replaces an earlier one.
        "[mypy-tests.typing.cases_r]\n"
        "ignore_errors = False\n"
        "[mypy-tests.typing.cases_loaded]\n"
        "ignore_errors = False\n"
        f"{'' if track_loaded_option else enable}"
    )


def run_mypy(
    tmp: Path, plugins: str, files: tuple[str, ...] = CASE_FILES, track_loaded_option: bool = False
) -> subprocess.CompletedProcess[str]:
    tmp.mkdir(parents=True, exist_ok=True)
    ini = tmp / "mypy.ini"
    ini.write_text(config(plugins, track_loaded_option))
    env = {**os.environ, "RELATIONS_TEST_DB": "sqlite"}
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ini), "--cache-dir", str(tmp / "cache"), *files],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def modern(type_text: str) -> str:
    """mypy < 1.16 prints ``Union[A, None]`` and ``builtins.list[A]``; newer ones ``A | None``."""
    type_text = type_text.replace("builtins.list[", "list[")
    start = type_text.find("Union[")
    if start < 0:
        return type_text
    depth, parts, begin = 0, [], start + len("Union[")
    for index in range(begin, len(type_text)):
        char = type_text[index]
        if char == "[":
            depth += 1
        elif char == "]" and depth:
            depth -= 1
        elif char == "]":
            parts.append(type_text[begin:index])
            joined = " | ".join(modern(part.strip()) for part in parts)
            return modern(type_text[:start] + joined + type_text[index + 1 :])
        elif char == "," and not depth:
            parts.append(type_text[begin:index])
            begin = index + 1
    return type_text


def parse_output(result: subprocess.CompletedProcess[str]) -> Outputs:
    assert "Traceback" not in result.stderr + result.stdout, result.stderr + result.stdout
    assert result.returncode in (0, 1), result.stderr + result.stdout
    found: Outputs = {}
    for raw in result.stdout.splitlines():
        match = OUTPUT.match(raw)
        if match is None:
            continue
        message = match["message"]
        revealed = re.fullmatch(r'Revealed type is "(.*)"', message)
        entry = (
            f"R: {modern(revealed[1])}"
            if revealed
            else f"{'E' if match['level'] == 'error' else 'N'}: {message}"
        )
        found.setdefault((match["file"], int(match["line"])), []).append(entry)
    return found


def expectations() -> Iterator[tuple[str, int, list[str], str]]:
    """(file, code line, expected outputs, source) for every code line of the case files."""
    for name in CASE_FILES:
        pending: list[str] = []
        for number, line in enumerate((ROOT / name).read_text().splitlines(), start=1):
            match = EXPECTATION.match(line)
            if match:
                pending.append(f"{match[1]}: {match[2]}")
            elif line.strip() and not line.lstrip().startswith("#"):
                yield name, number, pending, line.strip()
                pending = []


CASES = list(expectations())


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outputs]:
    """mypy's output over the case files, with django-stubs' plugin first and last."""
    first = f"{DJANGO_PLUGIN}, {OUR_PLUGIN}"
    last = f"{OUR_PLUGIN}, {DJANGO_PLUGIN}"
    base = tmp_path_factory.mktemp("mypy")
    if PLUGIN_CODES_IN_CONFIG:
        runs = {"django-stubs first": [(first, CASE_FILES, False)], "ours first": [(last, CASE_FILES, False)]}
    else:
        r_cases, loaded_cases = CASE_FILES[:1], CASE_FILES[1:]
        runs = {
            "django-stubs first": [(first, r_cases, False), (first, loaded_cases, True)],
            "ours first": [(last, r_cases, False), (last, loaded_cases, True)],
        }
    jobs = [(order, job) for order, order_jobs in runs.items() for job in order_jobs]
    with ThreadPoolExecutor(2) as pool:
        futures = [
            (order, pool.submit(run_mypy, base / str(index), plugins, files, option))
            for index, (order, (plugins, files, option)) in enumerate(jobs)
        ]
        merged: dict[str, Outputs] = {order: {} for order in runs}
        for order, future in futures:
            merged[order].update(parse_output(future.result()))
    return merged


@pytest.mark.parametrize(
    ("file", "line", "expected", "source"),
    [case for case in CASES if case[2]],
    ids=[f"{Path(c[0]).stem}:{c[1]}" for c in CASES if c[2]],
)
def test_case(outputs: dict[str, Outputs], file: str, line: int, expected: list[str], source: str) -> None:
    assert outputs["django-stubs first"].get((file, line), []) == expected, source


def test_no_other_output(outputs: dict[str, Outputs]) -> None:
    """Lines without an expectation are silent (no stray error, no false 'not loaded')."""
    expected_lines = {(c[0], c[1]) for c in CASES if c[2]}
    stray = {key: value for key, value in outputs["django-stubs first"].items() if key not in expected_lines}
    assert stray == {}
    # and the cases with an expectation are a large share of the files
    assert len(expected_lines) >= 60


def test_plugin_order_does_not_matter(outputs: dict[str, Outputs]) -> None:
    assert outputs["ours first"] == outputs["django-stubs first"]


def test_without_django_stubs_plugin_is_a_clear_error(tmp_path: Path) -> None:
    result = run_mypy(tmp_path, OUR_PLUGIN, files=("tests/typing/typingapp/__init__.py",))
    assert result.returncode == 2
    assert "relations.stubs.mypy_plugin needs django-stubs' mypy plugin" in result.stdout + result.stderr
    assert "plugins = mypy_django_plugin.main, relations.stubs.mypy_plugin" in result.stdout + result.stderr


def test_plugin_module_imports_no_django() -> None:
    """mypy may import the plugin before django-stubs' one has configured Django."""
    code = (
        "import sys, relations.stubs.mypy_plugin; "
        "ours = ('relations', 'relations.stubs', 'relations.stubs._types', 'relations.stubs.mypy_plugin'); "
        "bad = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.') "
        "or (m.startswith('relations') and m not in ours));"
        "print(bad); sys.exit(bool(bad))"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
