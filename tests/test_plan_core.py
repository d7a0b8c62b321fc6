"""plan() and its adapters keep the core free of the API frameworks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = """
import sys
import django
django.setup()
from relations import aprefetch, plan, prefetch
import relations.plans.hints
from tests.testapp.models import Book
names = {"rest_framework", "ninja", "pydantic", "adrf"}
frameworks = sorted(m for m in sys.modules if m.split(".")[0] in names)
assert not frameworks, frameworks
try:
    plan(Book)
except TypeError as error:
    print(error)
"""


def test_importing_plan_imports_no_framework_and_a_model_is_no_plan_source():
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=str(ROOT),
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "plan() takes a Django REST framework serializer" in done.stdout
    assert "<class 'tests.testapp.models.Book'>" in done.stdout
