"""The example's two book pages, strict and Django-only, give the same HTML with the same queries.

``example/bookstore/shop/views.py`` renders one page of books with their authors and
tags twice: ``/books/strict/`` loads them with ``aprefetch``, ``/books/django/`` with
Django's own ``aprefetch_related_objects``.  The example has its own settings and
app, which the test settings do not install, so the requests run in a subprocess:
this module run with ``python -m`` (``probe()``), with the example's settings on a fresh
database (a temporary SQLite file, or a scratch PostgreSQL database with
``RELATIONS_TEST_DB=postgres``).  It seeds the demo's bookstore, sends each request
through Django's ``AsyncClient`` inside ``CaptureQueriesContext`` and prints JSON;
the assertions are here.

Queries are counted twice: by ``CaptureQueriesContext`` on the connection that
Django's thread-sensitive ``sync_to_async`` uses (the probe's main thread, as under
``async_to_sync``), and by a handler on the ``django.db.backends`` logger with DEBUG
on, which sees the queries of every connection in the process, whatever thread or
driver ran them.
"""

from __future__ import annotations

import html
import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "example"

PAGES = {"": 50, "?n=1000": 1000, "?n=7": 7}  # query string -> books on the page
BAD = ["?n=0", "?n=abc", "?n=1001", "?n=-3"]
PATHS = [f"/books/{view}/{query}" for query in [*PAGES, *BAD] for view in ("strict", "django")]
API_PATHS = ["/api/drf/books/", "/api/ninja/books"]  # the same books as JSON, loaded by plan()


# --------------------------------------------------------------------------
# The subprocess


class _QueryLog(logging.Handler):
    """The SQL of every query the ``django.db.backends`` logger reports, from any thread."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.sql: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        sql = getattr(record, "sql", None)
        if sql is not None:
            self.sql.append(str(sql))


def probe(paths: list[str]) -> None:
    """Seed the example's database, request ``paths``, print one JSON document."""
    sys.path[:0] = [str(EXAMPLE), str(ROOT)]
    import django

    django.setup()
    from asgiref.sync import async_to_sync
    from bookstore.shop.seed import recreate_database, seed
    from django.db import connections
    from django.test import AsyncClient
    from django.test.utils import CaptureQueriesContext, setup_test_environment

    setup_test_environment(debug=True)
    recreate_database()
    seed()
    connection = connections["default"]
    with connection.cursor() as cursor:
        # The page's expected content, read with plain SQL: neither the ORM nor the library.
        cursor.execute(
            "SELECT b.id, b.title, a.name FROM shop_book b JOIN shop_author a ON a.id = b.author_id "
            "ORDER BY b.id"
        )
        books = cursor.fetchall()
        cursor.execute(
            "SELECT bt.book_id, t.name FROM shop_book_tags bt JOIN shop_tag t ON t.id = bt.tag_id "
            "ORDER BY bt.book_id, t.name"
        )
        tags: dict[int, list[str]] = {}
        for book_id, name in cursor.fetchall():
            tags.setdefault(book_id, []).append(name)
    expected = [[pk, title, author, tags.get(pk, [])] for pk, title, author in books]

    log = _QueryLog()
    backends = logging.getLogger("django.db.backends")
    backends.addHandler(log)
    backends.setLevel(logging.DEBUG)
    client = AsyncClient()
    responses = []
    for path in paths:
        log.sql.clear()
        with CaptureQueriesContext(connection) as captured:
            response = async_to_sync(client.get)(path)
        responses.append(
            {
                "path": path,
                "status": response.status_code,
                "content": response.content.decode(),
                "captured": [q["sql"] for q in captured.captured_queries],
                "logged": list(log.sql),
            }
        )
    print(json.dumps({"vendor": connection.vendor, "expected": expected, "responses": responses}))


# --------------------------------------------------------------------------
# The tests


def pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(
        dbname="postgres",
        autocommit=True,
        host=os.environ.get("PGHOST", "127.0.0.1"),
        port=os.environ.get("PGPORT", "5432"),
        user=os.environ.get("PGUSER", "postgres"),
    ) as conn:
        conn.execute(sql)


@pytest.fixture(scope="module", params=["auto", "thread"])
def run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The probe's output for ``PATHS``, with ``RELATIONS["ASYNC_DRIVER"]`` = the param."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOOKSTORE_")}
    env["DJANGO_SETTINGS_MODULE"] = "bookstore.settings"
    env["BOOKSTORE_ASYNC_DRIVER"] = request.param
    backend = os.environ.get("RELATIONS_TEST_DB", "sqlite")
    pg_name = None
    if backend == "postgres":
        pg_name = f"{os.environ.get('RELATIONS_TEST_PG_NAME', 'relations')}_example"
        pg_admin(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
        pg_admin(f'CREATE DATABASE "{pg_name}"')
        env["BOOKSTORE_PG_NAME"] = pg_name
    else:
        env["BOOKSTORE_DB"] = str(tmp_path_factory.mktemp("example") / "views.sqlite3")
    try:
        done = subprocess.run(
            [sys.executable, "-m", "tests.test_example_views", json.dumps([*PATHS, *API_PATHS])],
            env=env,
            cwd=str(ROOT),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    finally:
        if pg_name:
            pg_admin(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
    assert done.returncode == 0, done.stderr
    out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["vendor"] == ("postgresql" if backend == "postgres" else "sqlite")
    out["by_path"] = {r["path"]: r for r in out["responses"]}
    return out


ROW = re.compile(r"<tr><td>(\d+)</td><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td></tr>")


def rows(content: str) -> list[list[Any]]:
    """The table of a page: [pk, title, author, [tags]] per book."""
    found = []
    for pk, title, author, tags in ROW.findall(content):
        names = [] if tags == "&ndash;" else [html.unescape(t) for t in tags.split(", ")]
        found.append([int(pk), html.unescape(title), html.unescape(author), names])
    return found


@pytest.mark.parametrize("query, n", PAGES.items())
def test_both_pages_are_identical_and_show_the_database(run, query, n):
    strict = run["by_path"][f"/books/strict/{query}"]
    django_only = run["by_path"][f"/books/django/{query}"]
    assert strict["status"] == django_only["status"] == 200
    assert strict["content"] == django_only["content"]
    assert f"<h1>{n} books</h1>" in strict["content"]
    assert rows(strict["content"]) == run["expected"][:n]
    # The seed gives some books no tag and some several: both cases are on the page.
    tag_counts = {len(row[3]) for row in run["expected"][:n]}
    if n >= 50:
        assert 0 in tag_counts and max(tag_counts) > 1


@pytest.mark.parametrize("query", PAGES)
def test_both_pages_run_the_same_three_queries(run, query):
    strict = run["by_path"][f"/books/strict/{query}"]
    django_only = run["by_path"][f"/books/django/{query}"]
    for response in (strict, django_only):
        assert len(response["captured"]) == 3, response["captured"]
        assert len(response["logged"]) == 3, response["logged"]
        books, authors, tags = response["captured"]
        assert 'FROM "shop_book"' in books and "LIMIT" in books
        assert 'FROM "shop_author"' in authors and "shop_book" not in authors
        assert 'FROM "shop_tag"' in tags and '"shop_book_tags"' in tags
    # The page of books is the same query in both views.
    assert strict["captured"][0] == django_only["captured"][0]


@pytest.mark.parametrize("view", ["strict", "django"])
@pytest.mark.parametrize("query", BAD)
def test_a_bad_page_size_is_a_400_without_queries(run, view, query):
    response = run["by_path"][f"/books/{view}/{query}"]
    assert response["status"] == 400
    assert "n must be a whole number from 1 to 1000" in response["content"]
    assert response["captured"] == response["logged"] == []


@pytest.mark.parametrize("path", API_PATHS)
def test_the_api_views_show_the_database_with_one_query_per_planned_path(run, path):
    response = run["by_path"][path]
    assert response["status"] == 200, response["content"]
    books = json.loads(response["content"])
    shown = [[b["id"], b["title"], b["author"]["name"], b["tags"]] for b in books]
    assert shown == run["expected"][:50]
    assert all(b["author"]["publisher"]["name"] for b in books)
    for captured in (response["captured"], response["logged"]):
        assert len(captured) == 4, captured  # the books; then author, author__publisher, tags
        books_sql, authors, publishers, tags = captured
        assert 'FROM "shop_book"' in books_sql and "LIMIT" in books_sql
        assert 'FROM "shop_author"' in authors
        assert 'FROM "shop_publisher"' in publishers
        assert 'FROM "shop_tag"' in tags and '"shop_book_tags"' in tags


def test_the_drf_view_and_the_ninja_endpoint_give_the_same_books(run):
    drf, ninja = (json.loads(run["by_path"][path]["content"]) for path in API_PATHS)
    assert drf == ninja


if __name__ == "__main__":
    probe(json.loads(sys.argv[1]))
