"""``manage.py seed``: recreate the database and load the demo's bookstore, nothing else.

Used by the HTTP benchmark (``benchmarks/http_views.py``) and handy before
``runserver`` or uvicorn to look at ``/books/strict/`` and ``/books/django/``.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import connection

from ...seed import recreate_database, seed


class Command(BaseCommand):
    help = "Recreate the example database and seed the bookstore (the same rows as `demo`)."

    def handle(self, *args: Any, **options: Any) -> None:
        recreate_database()
        counts = seed()
        summary = ", ".join(f"{n:,} {what}" for what, n in counts.items())
        self.stdout.write(f"{connection.settings_dict['NAME']} ({connection.vendor}): {summary}.")
