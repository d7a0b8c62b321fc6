#!/usr/bin/env python
"""The bookstore example's manage.py.  Try: python example/manage.py demo"""

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def main() -> None:
    # Run from anywhere: the project package lives next to this file.
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    # Use the library from this checkout when it is not pip-installed.
    try:
        import relations  # noqa: F401
    except ImportError:
        sys.path.insert(1, str(REPO))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bookstore.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
