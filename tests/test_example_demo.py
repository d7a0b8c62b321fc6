"""The example project's demo runs end to end on embedded SQLite and shows what it claims."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_demo_command(tmp_path):
    env = {**os.environ, "BOOKSTORE_DB": str(tmp_path / "demo.sqlite3")}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    done = subprocess.run(
        [sys.executable, str(ROOT / "example" / "manage.py"), "demo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "raises RelationNotLoaded" in out
    assert "Book.author is not loaded on Book pk=1" in out

    def queries_on(line_start: str) -> int:
        line = next(x for x in out.splitlines() if x.strip().startswith(line_start))
        found = re.search(r"\s([\d,]+)\s", line.strip()[len(line_start) :])
        assert found, line
        return int(found.group(1).replace(",", ""))

    assert queries_on('author = await book.R("author")') == 1
    assert queries_on("book.author  (plain access)") == 0
    assert queries_on('for b in books: await b.R("author")') == 1000
    assert queries_on('await aprefetch(books, "author")') == 1
    assert queries_on('await aprefetch(books, "author", "tags")') == 2
