#!/usr/bin/env python
"""Run Django's own test suite with this library's strict descriptors installed.

    .venv/dj61/bin/python tests/django_suite/run.py --mode lazy    # reference run, then lazy: must match
    .venv/dj61/bin/python tests/django_suite/run.py --mode raise   # compare with the committed baseline
    .venv/dj61/bin/python tests/django_suite/run.py --mode lazy --db postgres
    .venv/dj61/bin/python tests/django_suite/run.py --mode none --apps many_to_one one_to_one
    .venv/dj61/bin/python tests/django_suite/run.py --lazy-loader relations   # reads served by the loaders

It uses the Django installed in the running interpreter, downloads the source
distribution of exactly that version from the package index with pip (cached under
``.cache/django-suite/``), and runs its ``tests/runtests.py`` with the settings
module in ``hook/`` (see ``django_suite_settings.py``).

Modes:

* ``none``: the reference: Django's suite without the library.
* ``lazy``: with the library in "lazy" mode, which must be invisible.  Runs the
  reference first (``--no-reference`` skips it and then only requires a clean
  run) and fails on any test whose outcome differs.  Also fails when the
  library's probes find a relation read where "is it loaded?" disagreed with the
  SQL Django really ran (see ``hook/django_suite_hook.py``).
* ``raise``: with the library in "raise" mode.  Fails on any failing test that is
  not in ``baseline-raise-<major.minor>.txt``; reports baseline entries that now
  pass.  ``--update-baseline`` rewrites the entries of the tests it ran (keeping
  their reasons) and keeps the entries of the tests it did not run.
* any other RELATIONS mode (``warn``, ``n_plus_one``, ...): run and report, no comparison.

``--lazy-loader relations`` sets ``RELATIONS["LAZY_LOADER"] = "relations"``: the
unloaded reads that the mode lets through are served by the library's loaders
(``--lazy-driver thread``: through the driver core's async face on the thread
driver); in ``lazy`` mode every test must still have Django's own outcome, and the
run fails when the loaders served no read at all (it would prove nothing).

Exit status: 0 when the checks of the mode pass, 1 otherwise, 2 on a setup error.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
HOOK = HERE / "hook"

# Relation-heavy Django test apps.  Without the library every test of them passes
# (or is skipped) on Django 5.2 and 6.1, on SQLite and on PostgreSQL.
DEFAULT_APPS = [
    # the apps of issue 6
    "many_to_one",
    "many_to_one_null",
    "one_to_one",
    "many_to_many",
    "m2m_through",
    "m2m_recursive",
    "m2m_signals",
    "prefetch_related",
    "select_related",
    "known_related_objects",
    "generic_relations",
    "foreign_object",
    "model_inheritance",
    "proxy_models",
    "delete",
    "serializers",
    "admin_changelist",
    # more relations
    "m2o_recursive",
    "m2m_and_m2o",
    "m2m_intermediary",
    "m2m_multiple",
    "m2m_regress",
    "m2m_through_regress",
    "select_related_onetoone",
    "select_related_regress",
    "generic_relations_regress",
    "generic_inline_admin",
    "model_inheritance_regress",
    "proxy_model_inheritance",
    "defer",
    "defer_regress",
    "null_fk",
    "null_fk_ordering",
    "nested_foreign_keys",
    "reverse_lookup",
    "filtered_relation",
    "custom_managers",
    "managers_regress",
    "delete_regress",
    "contenttypes_tests",
    "queries",
    "async",
    "fixtures",
    "fixtures_regress",
    "multiple_database",
    "order_with_respect_to",
    "custom_pk",
    "mutually_referential",
    "queryset_pickle",
    "model_forms",
    "model_formsets",
    "inline_formsets",
    "admin_inlines",
    "admin_utils",
    "aggregation_regress",
    "lookup",
    "get_or_create",
    "update",
    "update_only_fields",
    "raw_query",
    "ordering",
    "string_lookup",
    "unmanaged_models",
    "basic",
    "composite_pk",
    "admin_widgets",
    "admin_filters",
    "admin_ordering",
    "modeladmin",
    "model_formsets_regress",
    "model_fields",
    "model_regress",
    "migrations",
    "expressions",
    "aggregation",
    "annotations",
    "custom_columns",
    "extra_regress",
    "generic_views",
    "save_delete_hooks",
    "signals",
    "select_for_update",
    "get_object_or_404",
    "fixtures_model_package",
    "bulk_create",
]
DEFAULT_APPS = list(dict.fromkeys(DEFAULT_APPS))
# Slow apps (~2 minutes more per run on 2 cores), outside CI's time budget: the admin
# and auth end to end.  --extended adds them; the baselines cover them too.
EXTENDED_APPS = ["admin_views", "admin_custom_urls", "admin_docs", "auth_tests"]
OUTCOMES = ("success", "failure", "error", "skip", "expected failure", "unexpected success")
FAILED = ("failure", "error", "unexpected success")
# Timing-based tests that fail now and then under load, with or without the
# library: their outcome is reported but never compared.
FLAKY = {
    # "The time to process invalid inputs is not quadratic": a ratio of timings.
    "serializers.test_deserialization.TestDeserializer.test_crafted_xml_performance",
}


class SetupError(Exception):
    pass


def log(message: str = "") -> None:
    print(message, flush=True)


# ------------------------------------------------------------------ the sdist


def cache_dir() -> Path:
    path = Path(os.environ.get("DJANGO_SUITE_CACHE", REPO / ".cache" / "django-suite"))
    path.mkdir(parents=True, exist_ok=True)
    ignore = path / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# Downloaded by tests/django_suite/run.py; nothing here belongs in git.\n*\n")
    return path


def pip(*args: str) -> None:
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise SetupError(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")


def django_tests_dir(version: str) -> Path:
    """Django's tests/ directory of the sdist of ``version``, downloaded once."""
    cache = cache_dir()
    target = cache / f"django-{version}"
    if (target / ".complete").exists():
        return target / "tests"
    sdists = cache / "sdist"
    found = [p for p in sdists.glob("*.tar.gz") if p.name.lower() == f"django-{version}.tar.gz"]
    if not found:
        log(f"== downloading the Django {version} source distribution with pip")
        pip("download", "--no-deps", "--no-binary", ":all:", "-d", str(sdists), f"django=={version}")
        found = [p for p in sdists.glob("*.tar.gz") if p.name.lower() == f"django-{version}.tar.gz"]
        if not found:
            raise SetupError(f"pip download left no django-{version}.tar.gz in {sdists}")
    log(f"== extracting the test suite from {found[0].name}")
    tmp = Path(tempfile.mkdtemp(prefix=".extract-", dir=cache))
    try:
        with tarfile.open(found[0]) as tar:
            root = tar.getnames()[0].split("/")[0]
            members = [m for m in tar.getmembers() if m.name.startswith(f"{root}/tests/")]
            extract: dict[str, Any] = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            tar.extractall(tmp, members=members, **extract)
        shutil.rmtree(target, ignore_errors=True)
        (tmp / root).rename(target)
        (target / ".complete").write_text(version + "\n")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target / "tests"


def tblib_dir() -> Path:
    """tblib, which Django's parallel runner needs to report failures from workers."""
    path = cache_dir() / f"pylib-py{sys.version_info[0]}{sys.version_info[1]}"
    if not (path / ".complete").exists():
        log("== installing tblib (for --parallel) into the cache")
        shutil.rmtree(path, ignore_errors=True)
        pip("install", "--quiet", "--no-deps", "--target", str(path), "tblib>=3")
        (path / ".complete").write_text("tblib\n")
    return path


# ------------------------------------------------------------------ running


def batches(apps: list[str], size: int) -> list[list[str]]:
    """Split the apps into runtests invocations of ``size`` apps each.

    SQLite's ``PRAGMA foreign_key_check``, which Django's TestCase runs after every
    test, costs time in proportion to the number of tables, so one runtests.py over
    ~65 apps (~950 tables) spends most of its time there; batches of a few apps are
    several times faster in total, even counting each invocation's start-up.
    """
    size = max(1, size)
    return [apps[i : i + size] for i in range(0, len(apps), size)]


def run_batch(
    args: argparse.Namespace, mode: str, tests_dir: Path, apps: list[str], out: Path, index: int
) -> dict[str, Any]:
    """One runtests.py invocation; return its recorded result."""
    out.mkdir(parents=True)
    env = dict(os.environ)
    paths = [str(HOOK)]
    if args.parallel != 1:
        paths.append(str(tblib_dir()))
    env["PYTHONPATH"] = os.pathsep.join([*paths, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.update(
        DJANGO_SUITE_MODE=mode,
        DJANGO_SUITE_DB=args.db,
        DJANGO_SUITE_OUT=str(out),
        DJANGO_SUITE_STRICT_FRAMEWORK="1" if args.strict_framework else "",
        DJANGO_SUITE_LAZY_LOADER=args.lazy_loader,
        DJANGO_SUITE_LAZY_DRIVER=args.lazy_driver,
        DJANGO_SUITE_PG_PREFIX=f"{args.pg_prefix}_{index}" if args.jobs > 1 else args.pg_prefix,
    )
    env.pop("DJANGO_SETTINGS_MODULE", None)
    command = [
        sys.executable,
        "runtests.py",
        "--settings=django_suite_settings",
        "--noinput",
        f"--parallel={args.parallel}",
        f"--verbosity={args.verbosity}",
        *apps,
    ]
    log_path = out / "runtests.log"
    with open(log_path, "w") as log_file:
        process = subprocess.Popen(
            command, cwd=tests_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert process.stdout is not None
        for line in process.stdout:
            log_file.write(line)
            if args.show_output:
                sys.stdout.write(line)
        returncode = process.wait()
    output = log_path.read_text()
    result_file = out / "result.json"
    if not result_file.exists():
        tail = "".join(output.splitlines(keepends=True)[-40:])
        raise SetupError(f"runtests.py exited with {returncode} and recorded no result ({log_path}):\n{tail}")
    result: dict[str, Any] = json.loads(result_file.read_text())
    ran = re.findall(r"^Ran (\d+) tests? in", output, re.M)
    result["runtests_ran"] = int(ran[-1]) if ran else -1
    result["apps"] = apps
    result["log"] = str(log_path)
    return result


def run_suite(args: argparse.Namespace, mode: str, tests_dir: Path, version: str) -> dict[str, Any]:
    """Run the apps (in batches, ``--jobs`` at a time); return the merged result."""
    cache = cache_dir()
    out = cache / "runs" / f"{version}-{args.db}-{run_name(args, mode)}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    groups = batches(args.apps, args.batch_size)
    log(
        f"== Django {version}, {args.db}, mode {run_name(args, mode)}: {len(args.apps)} apps in "
        f"{len(groups)} runtests.py runs, {args.jobs} at a time, --parallel={args.parallel} (logs: {out})"
    )
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = [
            pool.submit(run_batch, args, mode, tests_dir, apps, out / f"batch-{i:02d}", i)
            for i, apps in enumerate(groups)
        ]
        parts = [f.result() for f in futures]
    wall = time.monotonic() - start
    result: dict[str, Any] = {
        "mode": mode,
        "name": run_name(args, mode),
        "wall": wall,
        "log": str(out),
        "outcomes": {},
        "details": {},
        "tests_run": 0,
        "runtests_ran": 0,
        "batches": [],
    }
    for part in parts:
        result["outcomes"].update(part["outcomes"])
        result["details"].update(part["details"])
        result["tests_run"] += part["tests_run"]
        result["runtests_ran"] += part["runtests_ran"]
        result["batches"].append(
            {k: part[k] for k in ("apps", "installation", "tests_run", "runtests_ran", "log")}
        )
    counts: Counter[str] = Counter()
    findings: list[dict[str, Any]] = []
    for path in sorted(glob.glob(str(out / "batch-*" / "probe-*.json"))):
        probe = json.loads(Path(path).read_text())
        counts.update(probe["counts"])
        findings.extend(probe["findings"])
    result["probe_counts"] = dict(counts)
    result["findings"] = findings
    result["installation"] = merge_installations([b["installation"] for b in result["batches"]])
    result["summary"] = summarize(result)
    return result


def run_name(args: argparse.Namespace, mode: str) -> str:
    """The mode, and how lazy reads are served when the library's loaders serve them."""
    if mode == "none" or args.lazy_loader == "django":
        return mode
    return f"{mode}+loaders" + ("" if args.lazy_driver == "sync" else f"-{args.lazy_driver}")


def served_by_app(result: dict[str, Any]) -> dict[str, int]:
    """How many reads the library's loaders served, per Django test app."""
    prefix = "served: "
    counts = result["probe_counts"]
    return {k[len(prefix) :]: v for k, v in sorted(counts.items()) if k.startswith(prefix)}


def merge_installations(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """The descriptor installation over all batches (contrib models count once per batch)."""
    merged: dict[str, Any] = {
        "models": 0,
        "relation_descriptors": 0,
        "strict": 0,
        "strict_by_class": Counter(),
        "not_strict": [],
        "samples": {},
        "relations_app_installed": all(r.get("relations_app_installed") for r in reports),
        "relations_imported": any(r.get("relations_imported") for r in reports),
        "batches_without_strict": sum(1 for r in reports if not r.get("strict")),
    }
    for r in reports:
        for key in ("models", "relation_descriptors", "strict"):
            merged[key] += r.get(key, 0)
        merged["strict_by_class"].update(r.get("strict_by_class", {}))
        merged["not_strict"] += r.get("not_strict", [])
        merged["samples"].update(r.get("samples", {}))
    merged["strict_by_class"] = dict(merged["strict_by_class"])
    return merged


def summarize(result: dict[str, Any]) -> dict[str, int]:
    counts = Counter(result["outcomes"].values())
    summary = {name: counts.get(name, 0) for name in OUTCOMES}
    summary["run"] = result["tests_run"]
    summary["runtests_ran"] = result["runtests_ran"]  # runtests' own "Ran N tests", as a cross-check
    return summary


def summary_line(version: str, db: str, result: dict[str, Any]) -> str:
    s = result["summary"]
    installation = result["installation"]
    passed = s["success"] + s["skip"] + s["expected failure"]
    strict = f"{installation['strict']}/{installation['relation_descriptors']} relation descriptors strict"
    asked = result["probe_counts"].get("policy asked", 0)
    extra = f"; {asked} unloaded reads went through the policy" if result["mode"] != "none" else ""
    if result["name"] != result["mode"]:
        extra += f", {result['probe_counts'].get('served by the loaders', 0)} served by the loaders"
    return (
        f"Django {version} {db} {result['name']}: {s['run']} tests, {passed} passed "
        f"({s['success']} ok, {s['skip']} skipped, {s['expected failure']} expected failures), "
        f"{s['failure']} failures, {s['error']} errors, {s['unexpected success']} unexpected successes; "
        f"{strict}{extra}; {result['wall']:.1f}s"
    )


def check_installation(result: dict[str, Any]) -> list[str]:
    """Problems with the descriptor installation of a run (empty: fine)."""
    inst = result["installation"]
    problems = []
    if result["mode"] == "none":
        if inst["strict"] or inst["relations_imported"]:
            problems.append("the reference run has the library loaded")
        return problems
    if not inst["relations_app_installed"]:
        problems.append("the relations app is not installed in the run")
    if inst["relation_descriptors"] == 0 or inst["strict"] == 0 or inst["batches_without_strict"]:
        problems.append(
            "a run has no strict descriptor on any model: nothing was replaced, it proves nothing"
        )
    if inst["not_strict"]:
        problems.append(
            f"{len(inst['not_strict'])} relation descriptors are not strict: "
            + ", ".join(inst["not_strict"][:20])
        )
    for name, cls in inst["samples"].items():
        if not cls.startswith("Strict"):
            problems.append(f"{name} is a {cls}, not a strict descriptor")
    return problems


def check_findings(result: dict[str, Any]) -> list[str]:
    """The probes' reports: the library's "loaded?" disagreeing with Django's SQL."""
    problems = []
    for f in result["findings"]:
        if f["kind"] in ("asked-no-query", "raised-no-query") and f["exception"] == "FieldFetchBlocked":
            continue  # Django 6.1 FETCH_RAISE: Django itself refuses the query
        problems.append(
            f"{f['kind']}: {f['relation']} via {f['what']} in {f['test']}"
            + (f" raising {f['exception']}" if f["exception"] else "")
            + (f"\n      at {f['where']}" if f["where"] else "")
            + (f"\n      sql: {f['sql'][:160]}" if f["sql"] else "")
        )
    return problems


def describe(result: dict[str, Any], test_id: str) -> str:
    d = result["details"].get(test_id, {})
    if not d:
        return result["outcomes"].get(test_id, "?")
    text = f"{d.get('type')}: {d.get('message')}"
    if d.get("where"):
        text += f"\n      at {d['where']}: {d.get('line', '')}"
    return text


def compare_with_reference(reference: dict[str, Any], result: dict[str, Any]) -> list[str]:
    problems = []
    ref, got = reference["outcomes"], result["outcomes"]
    for test_id in sorted((set(ref) | set(got)) - FLAKY):
        a, b = ref.get(test_id, "(not run)"), got.get(test_id, "(not run)")
        if a != b:
            problems.append(
                f"{test_id}: {a} without the library, {b} with it\n      {describe(result, test_id)}"
            )
    return problems


# ------------------------------------------------------------------ baseline


def baseline_path(version: str) -> Path:
    major_minor = ".".join(version.split(".")[:2])
    return HERE / f"baseline-raise-{major_minor}.txt"


def read_baseline(path: Path) -> dict[str, str]:
    entries: dict[str, str] = {}
    if not path.exists():
        return entries
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        test_id, _, reason = line.partition(" ")
        entries[test_id] = reason.strip().lstrip("#").strip()
    return entries


TO_MANY = ("reverse foreign key", "many-to-many", "reverse many-to-many", "generic relation")
# Django code through which a test itself evaluates what it asserts on.
ASSERTION_HELPERS = (
    "assertSequenceEqual",
    "assertCountEqual",
    "assertQuerySetEqual",
    "assertIn",
    "assertEqual",
)


def default_reason(result: dict[str, Any], test_id: str) -> str:
    """A one-line reason for a raise-mode failure, from what the failure recorded."""
    d = result["details"].get(test_id, {})
    where = d.get("where", "")
    line = " ".join(d.get("line", "").split())[:100]
    if not d.get("relation"):
        return (
            f"REVIEW {d.get('type', result['outcomes'].get(test_id))}: {d.get('message', '')[:80]} at {where}"
        )
    relation, kind = d["relation"], d.get("kind", "")
    if "fetch_mode_raise" in test_id:
        return (
            f"Django's FETCH_RAISE test on {relation}: RelationNotLoaded (a FieldFetchBlocked) comes first, "
            f"with the library's message instead of Django's ({where})"
        )
    accessor = d.get("accessor", "")
    via = ""
    if accessor.startswith(("django:", "python:")) and not accessor.endswith(ASSERTION_HELPERS):
        via = f" through {accessor.split(':')[-1]}() ({accessor.split(':')[1]})"
    if kind in TO_MANY:
        what = f"deliberate lazy load: evaluates the unprefetched {relation} ({kind}){via}"
    else:
        what = f"deliberate lazy load: reads {relation} ({kind}), not loaded{via}"
    return f"{what} at {where}: {line}"


def bug_tests(result: dict[str, Any]) -> set[str]:
    """Tests in which the probes caught the library raising (or asking) with no query needed."""
    return {
        f["test"]
        for f in result["findings"]
        if f["kind"] in ("raised-no-query", "asked-no-query") and f["exception"] != "FieldFetchBlocked"
    }


def write_baseline(path: Path, version: str, result: dict[str, Any], old: dict[str, str]) -> None:
    """Rewrite the baseline: this run's by-design failures, plus old entries it did not run.

    Keeping the entries of tests that did not run lets one file serve every database
    and app selection (a test skipped on SQLite but run on PostgreSQL, --extended).
    """
    bugs = bug_tests(result)
    # Only failures that come from RelationNotLoaded are by design; anything else
    # (and any raise the probes caught needing no query) stays a reported problem.
    failing = {
        t
        for t, o in result["outcomes"].items()
        if o in FAILED and t not in FLAKY and t not in bugs and result["details"].get(t, {}).get("relation")
    }
    kept = {t for t in old if t not in result["outcomes"]}
    entries = sorted(failing | kept)
    lines = [
        f"# Django {'.'.join(version.split('.')[:2])}: the Django tests that fail in RELATIONS mode",
        '# "raise" (tests/django_suite/run.py --mode raise), one per line: test id, then why.',
        "# Every entry is a test that reads a relation it did not load, where Django would",
        "# run a query (the runner's probes check that, see hook/django_suite_hook.py): raise",
        "# mode forbids it by design.  Bugs of the library are fixed, never listed here.",
        f"# {len(entries)} entries; --update-baseline rewrites the entries of the tests it runs",
        "# (reasons are kept) and keeps the others.",
        "",
    ]
    for test_id in entries:
        lines.append(f"{test_id}  {old.get(test_id) or default_reason(result, test_id)}")
    path.write_text("\n".join(lines) + "\n")


# ------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--mode",
        default="lazy",
        help='"none" (without the library), or a RELATIONS mode: lazy, raise, warn, n_plus_one, ...',
    )
    parser.add_argument("--db", default="sqlite", choices=("sqlite", "postgres"))
    parser.add_argument(
        "--apps", nargs="+", default=DEFAULT_APPS, help="Django test labels (default: %(default)s)"
    )
    parser.add_argument("--extended", action="store_true", help=f"add {' '.join(EXTENDED_APPS)}")
    parser.add_argument("--parallel", type=int, default=1, help="runtests.py --parallel (default: 1)")
    parser.add_argument("--jobs", type=int, default=2, help="runtests.py runs at a time (default: 2)")
    parser.add_argument("--batch-size", type=int, default=6, help="apps per runtests.py run (default: 6)")
    parser.add_argument("--verbosity", type=int, default=1)
    parser.add_argument("--no-reference", action="store_true", help="lazy: skip the run without the library")
    parser.add_argument("--update-baseline", action="store_true", help="raise: rewrite the baseline file")
    parser.add_argument(
        "--strict-framework", action="store_true", help='RELATIONS["STRICT_FRAMEWORK"] = True'
    )
    parser.add_argument(
        "--lazy-loader",
        default="django",
        choices=("django", "relations"),
        help='RELATIONS["LAZY_LOADER"]: "relations" serves lazy reads with the library\'s loaders',
    )
    parser.add_argument(
        "--lazy-driver",
        default="sync",
        choices=("sync", "thread"),
        help="with --lazy-loader relations: serve the reads on the sync driver, or through "
        "async_to_sync on the thread driver",
    )
    parser.add_argument("--show-output", action="store_true", help="echo runtests.py's output")
    parser.add_argument("--json", type=Path, help="write the results of every run here")
    parser.add_argument(
        "--pg-prefix",
        default=os.environ.get("DJANGO_SUITE_PG_PREFIX", "django_suite"),
        help="PostgreSQL test databases: <prefix>_<batch>_default and _other (<prefix>_default "
        "and _other with --jobs 1); the run creates and drops them",
    )
    args = parser.parse_args(argv)
    if args.extended:
        args.apps = [*args.apps, *(a for a in EXTENDED_APPS if a not in args.apps)]

    import django

    version = django.__version__
    try:
        tests_dir = django_tests_dir(version)
        runs: list[dict[str, Any]] = []
        reference = None
        if args.mode == "lazy" and not args.no_reference:
            reference = run_suite(args, "none", tests_dir, version)
            runs.append(reference)
        result = run_suite(args, args.mode, tests_dir, version)
        runs.append(result)
    except SetupError as exc:
        log(f"ERROR: {exc}")
        return 2

    problems: list[str] = []
    notes: list[str] = []
    for run in runs:
        missing = sorted(k for k in run["probe_counts"] if k.startswith("probe not installed"))
        if missing:
            notes.append(f"[{run['mode']}] " + "; ".join(missing) + " (update hook/django_suite_hook.py)")
    for run in runs:
        flaky = sorted(t for t in FLAKY if run["outcomes"].get(t) in FAILED)
        if flaky:
            notes.append(f"[{run['mode']}] timing-based tests failed (ignored): " + ", ".join(flaky))
    for run in runs:
        problems += [f"[{run['mode']}] {p}" for p in check_installation(run)]
        s = run["summary"]
        if s["runtests_ran"] != s["run"]:
            problems.append(
                f"[{run['name']}] runtests says it ran {s['runtests_ran']} tests, recorded {s['run']}"
            )
    if reference is not None:
        ref_failed = sorted(t for t, o in reference["outcomes"].items() if o in FAILED)
        if ref_failed:
            notes.append(
                f"{len(ref_failed)} tests fail even without the library: " + ", ".join(ref_failed[:10])
            )

    if args.lazy_loader == "relations":
        served = served_by_app(result)
        notes.append(
            f"[{result['name']}] reads served by the loaders, per app: "
            + (", ".join(f"{app} {n}" for app, n in served.items()) or "none")
        )
        if not served:
            problems.append(f"[{result['name']}] the loaders served no read: the run proves nothing")
    if args.mode == "lazy":
        problems += check_findings(result)
        if reference is not None:
            problems += compare_with_reference(reference, result)
        else:
            problems += [
                f"{t}: {o}\n      {describe(result, t)}"
                for t, o in sorted(result["outcomes"].items())
                if o in FAILED and t not in FLAKY
            ]
    elif args.mode == "raise":
        path = baseline_path(version)
        baseline = read_baseline(path)
        failing = {t for t, o in result["outcomes"].items() if o in FAILED} - FLAKY
        problems += check_findings(result)
        if args.update_baseline:
            write_baseline(path, version, result, baseline)
            baseline = read_baseline(path)
            log(f"== wrote {path.relative_to(REPO)}: {len(baseline)} entries")
        new = sorted(failing - set(baseline))
        fixed = sorted(t for t in baseline if t not in failing and t in result["outcomes"])
        problems += [
            f"not in the baseline: {t} ({result['outcomes'][t]})\n      {describe(result, t)}" for t in new
        ]
        if fixed:
            notes.append(
                f"{len(fixed)} baseline entries now pass (remove them with --update-baseline): "
                + ", ".join(fixed)
            )
        other = sorted(t for t in failing if "relation" not in result["details"].get(t, {}))
        if other:
            notes.append(f"{len(other)} failures do not involve RelationNotLoaded: " + ", ".join(other))
        notes.append(f"{len(failing)} failing tests, {len(baseline)} baseline entries ({path.name})")

    log()
    for note in notes:
        log(f"note: {note}")
    for problem in problems:
        log(f"PROBLEM: {problem}")
    for run in runs:
        log("SUMMARY " + summary_line(version, args.db, run))
    if args.json:
        args.json.write_text(
            json.dumps(
                [
                    {k: run[k] for k in ("mode", "name", "summary", "wall", "installation", "probe_counts")}
                    | {"version": version, "db": args.db}
                    for run in runs
                ],
                indent=1,
            )
        )
    verdict = "FAILED" if problems else "OK"
    log(f"RESULT {verdict}: Django {version} {args.db} {result['name']} ({len(problems)} problems)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
