"""``python -m relations lint``: the command line of the static lint."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

EXIT_CLEAN, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m relations lint",
        description=(
            "Report relation reads that the queries did not load: per item of a loop or "
            "comprehension (REL001), in async code (REL002), in a helper called from there "
            "(REL003). Silence one line with '# relations: ignore' or '# relations: ignore[REL001]'."
        ),
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files or directories to check")
    parser.add_argument(
        "--settings",
        help="Django settings module (default: the DJANGO_SETTINGS_MODULE environment variable)",
    )
    parser.add_argument(
        "--pythonpath",
        action="append",
        default=[],
        metavar="DIR",
        help="a directory to add to the Python path (repeatable), like manage.py's option",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    parser.add_argument(
        "--select",
        default="",
        metavar="CODES",
        help="comma-separated codes to report (default: all)",
    )
    parser.add_argument("--exit-zero", action="store_true", help="exit 0 even when there are findings")
    return parser


def setup_django(settings: str | None, pythonpath: Sequence[str]) -> str | None:
    """Set Django up; return an error message instead of raising."""
    for entry in reversed(pythonpath):
        sys.path.insert(0, os.path.abspath(entry))
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    if settings:
        os.environ["DJANGO_SETTINGS_MODULE"] = settings
    if not os.environ.get("DJANGO_SETTINGS_MODULE"):
        return "no Django settings: pass --settings mysite.settings or set DJANGO_SETTINGS_MODULE"
    import django

    try:
        django.setup()
    except Exception as exc:  # a broken settings module: say so and stop
        return f"could not set Django up with {os.environ['DJANGO_SETTINGS_MODULE']}: {exc!r}"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    error = setup_django(args.settings, args.pythonpath)
    if error is not None:
        print(f"relations lint: {error}", file=sys.stderr)
        return EXIT_USAGE
    missing = [p for p in args.paths if not os.path.exists(p)]
    if missing:
        print(f"relations lint: no such file or directory: {', '.join(missing)}", file=sys.stderr)
        return EXIT_USAGE
    from . import CODES, as_json, lint_paths

    errors: list[str] = []
    findings = lint_paths(args.paths, errors=errors)
    for error in errors:
        print(f"relations lint: could not analyse {error}", file=sys.stderr)
    if args.select:
        wanted = {c.strip().upper() for c in args.select.split(",") if c.strip()}
        unknown = wanted - set(CODES)
        if unknown:
            print(f"relations lint: unknown codes: {', '.join(sorted(unknown))}", file=sys.stderr)
            return EXIT_USAGE
        findings = [f for f in findings if f.code in wanted]
    if args.format == "json":
        print(json.dumps(as_json(findings), indent=2))
    else:
        for finding in findings:
            print(finding.format())
        if findings:
            n = len(findings)
            print(
                f"Found {n} relation read{'s' if n != 1 else ''} that the queries do not load.",
                file=sys.stderr,
            )
    if findings and not args.exit_zero:
        return EXIT_FINDINGS
    return EXIT_CLEAN
