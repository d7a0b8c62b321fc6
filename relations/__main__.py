"""``python -m relations COMMAND``: the library's command line.

Commands:

    lint PATH...    report relation reads that the queries do not load (see relations.lint)
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

USAGE = "usage: python -m relations lint PATH... [--settings SETTINGS] [--format {text,json}]"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(USAGE)
        print(__doc__.split("Commands:", 1)[1].rstrip() if __doc__ else "")
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command == "lint":
        from .lint.cli import main as lint_main

        return lint_main(rest)
    print(f"python -m relations: unknown command {command!r}\n{USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
