#!/usr/bin/env python
"""Django REST framework's own test suite with django-strict-relations installed.

    .venv/dj61/bin/python tests/drf_suite/run.py --mode lazy    # without the library, then lazy: must match
    .venv/dj61/bin/python tests/drf_suite/run.py --mode raise   # raise, then raise with serializers planned
    .venv/dj52/bin/python tests/drf_suite/run.py --mode lazy -- tests/test_relations_pk.py

Uses the DRF installed in the interpreter: downloads exactly that version's source
distribution with pip (``pip download --no-deps --no-binary :all:``) into
``.cache/drf-suite/`` with the one test requirement DRF's conftest imports that the
dev virtualenvs lack (``dj-database-url``), and runs its ``tests/`` with pytest from
there, DRF's own settings (SQLite in memory), and ``hook/relations_drf_hook.py``.

``--mode lazy``: every test must end as it does without the library (exit 1 otherwise).
``--mode raise``: runs raise mode, then again with every root serializer's ``.data``
loading ``plan()`` of itself first, and sorts each raise-mode failure: PREVENTED (the
test passes with the plan), FEWER QUERIES (no relation error left, but the test asserts
DRF's unplanned query count), STILL (a read the plan does not cover) or OTHER; it also
says whether the raise-mode message named the plan.  Fails if the plan makes a test
fail that passed without it.  It checks nothing against a baseline: it measures.
The last line is ``RESULT ok`` or ``RESULT FAILED``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HOOK = Path(__file__).resolve().parent / "hook"
CACHE = ROOT / ".cache" / "drf-suite"


def prepare() -> Path:
    """The extracted source distribution of the installed DRF, and its deps folder."""
    import rest_framework

    version = rest_framework.__version__
    source = CACHE / f"djangorestframework-{version}"
    CACHE.mkdir(parents=True, exist_ok=True)
    (CACHE / ".gitignore").write_text("*\n")
    if not (source / "tests" / "conftest.py").exists():
        with tempfile.TemporaryDirectory() as tmp:
            pip = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp]
            subprocess.run([*pip, "--no-binary", ":all:", f"djangorestframework=={version}"], check=True)
            (archive,) = Path(tmp).glob("*.tar.gz")
            with tarfile.open(archive) as tar:
                tar.extractall(CACHE, filter="data")
    deps = CACHE / "deps"
    if not (deps / "dj_database_url").exists():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "-q",
                "--no-deps",
                "--target",
                str(deps),
                "dj-database-url",
            ],
            check=True,
        )
    return source


def run(source: Path, mode: str, tests: list[str], *, autoplan: bool = False) -> dict[str, dict[str, object]]:
    """Run DRF's tests in ``mode``; the outcome of every test, by node id."""
    out = CACHE / f"outcomes-{mode}{'-planned' if autoplan else ''}.json"
    env = dict(os.environ)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.pop("DATABASE_URL", None)
    env["PYTHONPATH"] = os.pathsep.join([str(HOOK), str(CACHE / "deps"), str(ROOT)])
    env.update(
        RELATIONS_DRF_SUITE_MODE=mode,
        RELATIONS_DRF_SUITE_OUT=str(out),
        RELATIONS_DRF_SUITE_AUTOPLAN="1" if autoplan else "0",
    )
    command = [sys.executable, "-m", "pytest", "-q", "-p", "relations_drf_hook", "-p", "no:cacheprovider"]
    done = subprocess.run(
        [*command, *tests], cwd=source, env=env, capture_output=True, text=True, check=False
    )
    tail = done.stdout.strip().splitlines()[-1:] or ["(no output)"]
    print(f"{mode}{' + plan' if autoplan else ''}: {tail[0]}")
    if not out.exists():
        print(done.stdout[-3000:], done.stderr[-3000:])
        raise SystemExit(2)
    outcomes: dict[str, dict[str, object]] = json.loads(out.read_text())
    return outcomes


VERDICTS = ("PREVENTED", "FEWER QUERIES", "STILL", "OTHER")


def verdict(strict: dict[str, object], planned: dict[str, object]) -> str:
    """What loading the plan does to a raise-mode failure."""
    if planned.get("outcome") == "passed":
        return "PREVENTED"  # the test passes with its serializer's plan loaded
    if planned.get("not_loaded"):
        return "STILL"  # a relation read the plan does not cover
    if planned.get("query_count"):
        return "FEWER QUERIES"  # no relation error left; the test asserts the N+1 query count
    return "OTHER"


def count(outcomes: dict[str, dict[str, object]], outcome: str) -> int:
    return sum(1 for entry in outcomes.values() if entry["outcome"] == outcome)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mode", choices=["lazy", "raise"], default="lazy")
    parser.add_argument("tests", nargs="*", default=["tests"], help="pytest arguments (default: tests)")
    args = parser.parse_args()
    source = prepare()
    if args.mode == "lazy":
        reference = run(source, "none", args.tests)
        lazy = run(source, "lazy", args.tests)
        before = {node: entry["outcome"] for node, entry in reference.items()}
        after = {node: entry["outcome"] for node, entry in lazy.items()}
        differ = sorted(node for node in set(before) | set(after) if before.get(node) != after.get(node))
        for node in differ:
            print(f"DIFFERS {node}: {before.get(node)} -> {after.get(node)}")
        print(f"SUMMARY tests={len(lazy)} passed={count(lazy, 'passed')} differ={len(differ)}")
        ok = not differ and len(lazy) > 0
    else:
        strict = run(source, "raise", args.tests)
        planned = run(source, "raise", args.tests, autoplan=True)
        failed = sorted(n for n, e in strict.items() if e["outcome"] in ("failed", "error"))
        verdicts = {n: verdict(strict[n], planned.get(n, {})) for n in failed}
        new = sorted(n for n, e in planned.items() if e["outcome"] in ("failed", "error") and n not in failed)
        for node in failed:
            named = "  (message names the plan)" if strict[node].get("plan_line") else ""
            print(f"{verdicts[node]:<13} {node}{named}")
        for node in new:
            print(f"{'NEW':<13} {node}: fails only with the plan applied")
        tally = {v: sum(1 for x in verdicts.values() if x == v) for v in VERDICTS}
        print(
            f"SUMMARY tests={len(strict)} raise_failures={len(failed)} "
            f"named_plan={sum(1 for n in failed if strict[n].get('plan_line'))} "
            + " ".join(f"{v.lower().replace(' ', '_')}={n}" for v, n in tally.items())
            + f" new_with_plan={len(new)}"
        )
        ok = not new and len(strict) > 0
    print("RESULT ok" if ok else "RESULT FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
