"""``manage.py relations_stubs``: write (or ``--check``) the typed ``R()`` module for pyright."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError, CommandParser

from relations.stubs import pyright


class Command(BaseCommand):
    help = (
        "Write a module of typed R() overloads for pyright / Pylance users (see docs/pyright.md); "
        "--check fails when the file on disk is stale."
    )
    # It reads the app registry only: no database, no system checks needed.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "app_labels", nargs="*", help="Apps whose models get overloads (default: every app)."
        )
        parser.add_argument(
            "-o", "--output", default="relations_types.py", help="The module to write (default: %(default)s)."
        )
        parser.add_argument(
            "--depth",
            type=int,
            default=pyright.DEFAULT_DEPTH,
            help="Longest relation path, in hops, given a Literal overload (default: %(default)s).",
        )
        parser.add_argument(
            "--strict",
            action="store_true",
            help="Mark other literal paths @deprecated, so pyright's reportDeprecated flags typos.",
        )
        parser.add_argument(
            "--check",
            action="store_true",
            help="Write nothing; exit non-zero if the file is missing or stale.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        app_labels: list[str] = options["app_labels"]
        depth: int = options["depth"]
        if depth < 1:
            raise CommandError("--depth must be at least 1.")
        try:
            source = pyright.generate(apps, app_labels, depth, options["strict"])
        except LookupError as error:  # an unknown app label
            raise CommandError(str(error)) from error
        output = Path(options["output"])
        command = pyright.command_line(app_labels, depth, options["strict"])
        if options["check"]:
            current = output.read_text(encoding="utf-8") if output.is_file() else None
            if current is None:
                raise CommandError(f"{output} does not exist; run `{command} -o {output}` to create it.")
            if current != source:
                raise CommandError(
                    f"{output} is stale: the models' relations changed since it was generated; "
                    f"run `{command} -o {output}` to regenerate it."
                )
            self.stdout.write(f"{output} is up to date.")
            return
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(source, encoding="utf-8")
        self.stdout.write(f"Wrote {output}.")
