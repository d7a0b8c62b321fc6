#!/usr/bin/env python
"""Run popular third-party apps' test suites with this library's strict descriptors.

    .venv/dj52/bin/python tests/thirdparty_suite/run.py --mode lazy    # plain, then lazy: must match
    .venv/dj52/bin/python tests/thirdparty_suite/run.py --mode raise --apps guardian filter
    .venv/dj61/bin/python tests/thirdparty_suite/run.py --mode raise --update-baseline

Each app is installed, with its few small dependencies and ``--no-deps`` (the
interpreter's Django is never touched), into a private ``--target`` directory under
``.cache/thirdparty-suite/``; its tests come from its source distribution on PyPI
(``pip download --no-binary :all:``).  django-mptt 0.19 and django-polymorphic
4.11.3 publish no tests on PyPI (neither their sdists nor their wheels carry them),
so they are not here yet.

Modes:

* ``lazy``: runs each app without the library (the reference) and then in "lazy"
  mode; every test must have the same outcome.
* ``raise``: every failing test must be in ``baseline-raise-<app>-<django>.txt``,
  and the read that failed must be in the test code: a ``RelationNotLoaded`` raised
  from the app's own code is a problem whatever the baseline says.
  ``--update-baseline`` rewrites the baseline from the run.
* ``none`` or any other RELATIONS mode: run and report.

Exit status: 0 when the mode's checks pass, 1 otherwise, 2 on a setup error.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
HOOK = HERE / "hook"
FAILED = ("failure", "error", "unexpected success")


@dataclass(frozen=True)
class App:
    """One third-party app: what to install, where its tests are, how to run them."""

    name: str
    requirement: str  # pinned, installed into the cache's --target directory
    settings: str  # the app's own test settings module
    labels: tuple[str, ...]  # test labels for ``django test``
    extra: tuple[str, ...] = ()  # small dependencies, pinned, installed --no-deps too
    extend: str = ""  # a package whose test code lives inside it (see hook/thirdparty_settings.py)
    test_packages: tuple[str, ...] = ()  # parts of the package that are test code


APPS = {
    "guardian": App(
        name="guardian",
        requirement="django-guardian==3.5.2",
        extra=("django-environ==0.14.0",),
        settings="guardian.testapp.testsettings",
        labels=("guardian.testapp.tests",),
        extend="guardian",
        test_packages=("guardian/testapp",),
    ),
    "filter": App(
        name="filter",
        requirement="django-filter==26.2",
        extra=("pytz==2025.2",),
        settings="tests.settings",
        labels=("tests",),
    ),
}


class SetupError(Exception):
    pass


def log(message: str = "") -> None:
    print(message, flush=True)


# ------------------------------------------------------------------ installing


def cache_dir() -> Path:
    path = Path(os.environ.get("THIRDPARTY_SUITE_CACHE", REPO / ".cache" / "thirdparty-suite"))
    path.mkdir(parents=True, exist_ok=True)
    ignore = path / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# Downloaded by tests/thirdparty_suite/run.py; nothing here belongs in git.\n*\n")
    return path


def pip(*args: str) -> None:
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise SetupError(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")


def site_dir(app: App) -> Path:
    """The app and its extras, installed --no-deps into a directory of their own."""
    tag = f"py{sys.version_info[0]}{sys.version_info[1]}"
    path = cache_dir() / f"site-{app.name}-{tag}" / "site-packages"
    if not (path.parent / ".complete").exists():
        log(f"== installing {app.requirement} {' '.join(app.extra)} (--no-deps) into {path}")
        shutil.rmtree(path.parent, ignore_errors=True)
        pip(
            "install",
            "--quiet",
            "--no-deps",
            "--no-compile",
            "--target",
            str(path),
            app.requirement,
            *app.extra,
        )
        for part in app.test_packages:  # test code runs from the sdist (THIRDPARTY_EXTEND)
            shutil.rmtree(path / part, ignore_errors=True)
        (path.parent / ".complete").write_text(app.requirement + "\n")
    return path


def sdist_dir(app: App) -> Path:
    """The app's source distribution, downloaded and extracted once."""
    cache = cache_dir()
    name, _, version = app.requirement.partition("==")
    target = cache / f"sdist-{name}-{version}"
    if (target / ".complete").exists():
        return target
    downloads = cache / "downloads"
    log(f"== downloading the {app.requirement} source distribution with pip")
    pip("download", "--no-deps", "--no-binary", ":all:", "-d", str(downloads), app.requirement)
    stem = f"{name.replace('-', '_')}-{version}.tar.gz".lower()
    found = [
        p
        for p in downloads.glob("*.tar.gz")
        if p.name.lower().replace("-", "_", 1) == stem.replace("-", "_", 1)
    ]
    if not found:
        raise SetupError(f"pip download left no {stem} in {downloads}")
    tmp = Path(tempfile.mkdtemp(prefix=".extract-", dir=cache))
    try:
        with tarfile.open(found[0]) as tar:
            root = tar.getnames()[0].split("/")[0]
            extract: dict[str, Any] = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            tar.extractall(tmp, **extract)
        shutil.rmtree(target, ignore_errors=True)
        (tmp / root).rename(target)
        (target / ".complete").write_text(app.requirement + "\n")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


# ------------------------------------------------------------------ running


def test_modules(app: App, tests_root: Path) -> list[str]:
    """The test modules under the app's labels, by dotted name.

    Named one by one: unittest's discovery would put the sdist first on ``sys.path``,
    where its copy of the package would shadow the installed one.
    """
    modules = []
    for label in app.labels:
        base = tests_root / label.replace(".", "/")
        for path in sorted(base.rglob("test*.py")):
            modules.append(".".join(path.relative_to(tests_root).with_suffix("").parts))
    return modules


def run_app(app: App, mode: str, *, library: Path, show_output: bool) -> dict[str, Any]:
    site = site_dir(app)
    tests_root = sdist_dir(app)
    out = Path(tempfile.mkdtemp(prefix=f"{app.name}-{mode}-", dir=cache_dir()))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "RELATIONS_"))}
    # The installed package comes before the sdist's copy of it; this library's tree last,
    # so an app's top-level "tests" package is the app's.
    env["PYTHONPATH"] = os.pathsep.join(
        [str(HOOK), str(REPO / "tests" / "django_suite" / "hook"), str(site), str(tests_root), str(library)]
    )
    env |= {
        "THIRDPARTY_MODE": mode,
        "THIRDPARTY_SETTINGS": app.settings,
        "THIRDPARTY_OUT": str(out),
        "THIRDPARTY_SITE": str(site),
        "THIRDPARTY_LIBRARY": str(library),
        "RUNTESTS_DIR": str(tests_root),
        "THIRDPARTY_EXTEND": f"{app.extend}={tests_root / app.extend}" if app.extend else "",
    }
    command = [sys.executable, "-m", "django", "test", *test_modules(app, tests_root)]
    command += ["--settings", "thirdparty_settings"]
    command += ["--noinput", "-v", "1"]
    start = time.monotonic()
    # The working directory is the run's own: nothing of the sdist shadows the installed package.
    done = subprocess.run(command, cwd=out, env=env, capture_output=True, text=True)
    wall = time.monotonic() - start
    (out / "output.txt").write_text(done.stdout + done.stderr)
    if show_output:
        log(done.stdout + done.stderr)
    result_file = out / "result.json"
    if not result_file.exists():
        raise SetupError(
            f"{app.name} {mode}: no result (exit {done.returncode}):\n{(done.stdout + done.stderr)[-3000:]}"
        )
    result: dict[str, Any] = json.loads(result_file.read_text())
    result |= {"mode": mode, "app": app.name, "wall": wall, "out": str(out)}
    return result


def counts(result: dict[str, Any]) -> Counter[str]:
    return Counter(result["outcomes"].values())


def summary_line(result: dict[str, Any], version: str) -> str:
    c = counts(result)
    passed = c["success"] + c["skip"] + c["expected failure"]
    from_app = sum(1 for d in result["details"].values() if d.get("reader", "").startswith("app:"))
    strict = f"{result['strict']}/{result['descriptors']} relation descriptors strict"
    return (
        f"{result['app']} Django {version} {result['mode']}: {result['tests_run']} tests, {passed} passed, "
        f"{c['failure']} failures, {c['error']} errors; "
        f"{from_app} RelationNotLoaded from the app's own code; "
        f"{strict}; {result['wall']:.1f}s"
    )


def describe(result: dict[str, Any], test_id: str) -> str:
    d = result["details"].get(test_id, {})
    text = f"{d.get('type', result['outcomes'].get(test_id))}: {d.get('message', '')}"
    if d.get("reader"):
        text += f"\n      read at {d['reader']}"
    elif d.get("where"):
        text += f"\n      at {d['where']}: {d.get('line', '')}"
    return text


def reason(result: dict[str, Any], test_id: str) -> str:
    d = result["details"][test_id]
    who, where = d["reader"].split(":", 1)
    line = " ".join(d.get("line", "").split())[:100]
    if who == "app":  # the rule lets a package's single-instance reads load: this one is on peers
        return (
            f"N+1 in the app's own code, over many rows of a result (follows the mode): reads "
            f"{d['relation']} ({d.get('kind', '')}) at {where}, "
            f"called from the test at {d.get('where', '')}: {line}"
        )
    what = f"{d['relation']} ({d.get('kind', '')})"
    return f"deliberate lazy load in the test code: reads {what} at {where}: {line}"


def baseline_path(app: App, version: str) -> Path:
    return HERE / f"baseline-raise-{app.name}-{'.'.join(version.split('.')[:2])}.txt"


def read_baseline(path: Path) -> dict[str, str]:
    entries: dict[str, str] = {}
    for raw in path.read_text().splitlines() if path.exists() else ():
        line = raw.strip()
        if line and not line.startswith("#"):
            test_id, _, why = line.partition(" ")
            entries[test_id] = why.strip()
    return entries


def write_baseline(path: Path, app: App, version: str, result: dict[str, Any], old: dict[str, str]) -> None:
    by_design = sorted(
        t
        for t, o in result["outcomes"].items()
        if o in FAILED and result["details"].get(t, {}).get("reader", "").startswith(("test:", "app:"))
    )
    lines = [
        f"# {app.requirement}, Django {'.'.join(version.split('.')[:2])}: the tests that fail in",
        '# RELATIONS mode "raise".',
        '# "raise" (tests/thirdparty_suite/run.py --mode raise), one per line: test id, then why.',
        "# Entries read a relation they did not load in the test's own code, or are an N+1 in",
        "# the app's own code (a read on one of many instances, which follows the mode).",
        f"# {len(by_design)} entries.",
        "",
    ]
    lines += [f"{t}  {old.get(t) or reason(result, t)}" for t in by_design]
    path.write_text("\n".join(lines) + "\n")


def check(app: App, version: str, args: argparse.Namespace, runs: list[dict[str, Any]]) -> list[str]:
    problems: list[str] = []
    result = runs[-1]
    if result["mode"] != "none" and (not result["strict"] or result["strict"] != result["descriptors"]):
        problems.append(f"only {result['strict']} of {result['descriptors']} relation descriptors are strict")
    if result["mode"] == "lazy":
        reference = runs[0]
        ref, got = reference["outcomes"], result["outcomes"]
        for test_id in sorted(set(ref) | set(got)):
            a, b = ref.get(test_id, "(not run)"), got.get(test_id, "(not run)")
            if a != b:
                problems.append(
                    f"{test_id}: {a} without the library, {b} in lazy mode\n      {describe(result, test_id)}"
                )
    elif result["mode"] == "raise":
        path = baseline_path(app, version)
        if args.update_baseline:
            write_baseline(path, app, version, result, read_baseline(path))
        baseline = read_baseline(path)
        for test_id, outcome in sorted(result["outcomes"].items()):
            if outcome not in FAILED:
                continue
            if test_id not in baseline:
                problems.append(
                    f"not in the baseline: {test_id} ({outcome})\n      {describe(result, test_id)}"
                )
        fixed = sorted(t for t in baseline if result["outcomes"].get(t) not in FAILED)
        if fixed:
            log(f"note: {app.name}: {len(fixed)} baseline entries pass now: {', '.join(fixed)}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mode", default="lazy", help='"none", "lazy", "raise", or another RELATIONS mode')
    parser.add_argument("--apps", nargs="+", default=list(APPS), choices=list(APPS))
    parser.add_argument("--update-baseline", action="store_true", help="raise: rewrite the baselines")
    parser.add_argument("--show-output", action="store_true", help="echo the test runs' output")
    parser.add_argument(
        "--library", type=Path, default=REPO, help="the tree of this library to test (default: this one)"
    )
    args = parser.parse_args(argv)

    import django

    version = django.__version__
    problems: list[str] = []
    summaries: list[str] = []
    for name in args.apps:
        app = APPS[name]
        try:
            runs = []
            if args.mode == "lazy":
                runs.append(run_app(app, "none", library=args.library, show_output=args.show_output))
            runs.append(run_app(app, args.mode, library=args.library, show_output=args.show_output))
        except SetupError as exc:
            log(f"ERROR: {exc}")
            return 2
        problems += [f"[{name} {args.mode}] {p}" for p in check(app, version, args, runs)]
        summaries += [summary_line(run, version) for run in runs]
    log()
    for problem in problems:
        log(f"PROBLEM: {problem}")
    for line in summaries:
        log(f"SUMMARY {line}")
    verdict = "FAILED" if problems else "OK"
    log(f"RESULT {verdict}: Django {version} {args.mode} {' '.join(args.apps)} ({len(problems)} problems)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
