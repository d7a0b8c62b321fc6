"""The pytest plugin, run with pytester on generated test files (in subprocesses).

Each run is a separate pytest process with pytest-django and pytest-asyncio, the
plugin loaded through its ``pytest11`` entry point (the package is installed in
editable mode), against ``tests.settings`` (SQLite or PostgreSQL, as this run) or
the example bookstore's settings.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "example"

BOOKS = """
import pytest
from asgiref.sync import sync_to_async
from django.db import connections

from relations import RelationNotLoaded
from tests.conftest import data  # noqa: F401 - the fixture
from tests.testapp.models import Book


def titles_and_authors():
    return [(b.title, b.author.name) for b in Book.objects.order_by("pk")]  # the N+1


def test_n_plus_one(data):
    assert len(titles_and_authors()) == 4


def test_loaded(data):
    assert len([b.author.name for b in Book.objects.select_related("author")]) == 4


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_async_through_sync_to_async(data):
    try:
        assert len(await sync_to_async(titles_and_authors)()) == 4
    finally:
        await sync_to_async(connections.close_all)()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_async_read_in_the_event_loop_always_raises(data):
    try:
        book = await Book.objects.aget(title="B1")
        with pytest.raises(RelationNotLoaded):
            book.author
    finally:
        await sync_to_async(connections.close_all)()
"""


@pytest.fixture
def runner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), str(EXAMPLE)]))
    # Its own PostgreSQL test database: this run's is in use.
    base = os.environ.get("RELATIONS_TEST_PG_NAME", "relations")
    monkeypatch.setenv("RELATIONS_TEST_PG_NAME", f"{base}_plugin")
    monkeypatch.setenv("BOOKSTORE_DB", str(pytester.path / "bookstore.sqlite3"))
    monkeypatch.delenv("DJANGO_SETTINGS_MODULE", raising=False)
    pytester.makeini(
        "[pytest]\n"
        "DJANGO_SETTINGS_MODULE = tests.settings\n"
        "asyncio_mode = strict\n"
        "asyncio_default_fixture_loop_scope = function\n"
    )
    return pytester


def n_plus_one_line(pytester: pytest.Pytester) -> int:
    lines = (pytester.path / "test_books.py").read_text().splitlines()
    return next(i for i, text in enumerate(lines, 1) if text.endswith("# the N+1"))


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rA", *args, timeout=180)


def summary(result: pytest.RunResult) -> list[str]:
    """The plugin's table: the lines after its title, up to the totals line."""
    lines = result.outlines
    start = next(i for i, line in enumerate(lines) if "django-strict-relations: lazy-load sites" in line)
    end = next(
        i for i in range(start, len(lines)) if re.match(r"\d+ sites?, ", lines[i]) or "No lazy" in lines[i]
    )
    return lines[start + 1 : end + 1]


def test_off_unless_asked(runner):
    runner.makepyfile(test_books=BOOKS)
    result = run(runner)
    # The project's own settings (raise) apply; the plugin adds nothing.
    result.assert_outcomes(passed=2, failed=2)
    assert "lazy-load sites" not in result.stdout.str()


def test_raise_mode_fails_the_test_with_the_librarys_message(runner):
    runner.makepyfile(test_books=BOOKS)
    result = run(runner, "--relations-mode=raise")
    result.assert_outcomes(passed=2, failed=2)
    out = result.stdout.str()
    assert "FAILED test_books.py::test_n_plus_one - relations.errors.RelationNotLoad" in out
    assert "FAILED test_books.py::test_async_through_sync_to_async" in out
    # The traceback ends at the test's line (the library's frames are hidden), so the
    # "E" line is indented like that line.
    assert re.search(r"^E +relations\.errors\.RelationNotLoaded: Book\.author is not loaded", out, re.M)
    assert "Book.author is not loaded on Book pk=" in out
    assert '.select_related("author")' in out
    table = summary(result)
    assert "(--relations-mode=raise)" in result.stdout.str()
    row = next(line for line in table if line.startswith("testapp.Book.author"))
    line = n_plus_one_line(runner)
    assert re.search(
        rf"test_books\.py:{line}\s+2 \(2 blocked\)\s+yes\s+test_books\.py::test_n_plus_one", row
    ), row


def test_record_mode_lists_every_site_and_writes_json(runner):
    runner.makepyfile(test_books=BOOKS)
    result = run(runner, "--relations-mode=record", "--relations-report-json=sites.json")
    result.assert_outcomes(passed=4)
    table = summary(result)
    assert table[0].split() == ["relation", "location", "count", "N+1", "first", "test"]
    [row] = [line for line in table if line.startswith("testapp.")]
    # Both the sync test and the async one (in sync_to_async's thread): 4 + 4 reads.
    line = n_plus_one_line(runner)
    pattern = rf"^testapp\.Book\.author\s+test_books\.py:{line}\s+8\s+yes\s+test_books\.py::test_n_plus_one"
    assert re.search(pattern, row), row
    assert table[-1].startswith("1 site, 8 lazy loads, 1 N+1.")
    sites = json.loads((runner.path / "sites.json").read_text())["sites"]
    assert [(s["relation"], s["line"], s["count"], s["n_plus_one"], s["first_test"]) for s in sites] == [
        ("testapp.Book.author", line, 8, True, "test_books.py::test_n_plus_one")
    ]


def test_warn_mode_warns_and_lists(runner):
    runner.makepyfile(test_books=BOOKS)
    result = run(runner, "--relations-mode=warn")
    result.assert_outcomes(passed=4)
    out = result.stdout.str()
    assert "RelationLazyLoadWarning" in out
    assert f"test_books.py:{n_plus_one_line(runner)}" in out
    assert any(line.startswith("testapp.Book.author") for line in summary(result))


def test_ini_option(runner):
    runner.makepyfile(test_books=BOOKS)
    runner.makeini(
        "[pytest]\nDJANGO_SETTINGS_MODULE = tests.settings\nasyncio_mode = strict\n"
        "asyncio_default_fixture_loop_scope = function\nrelations_mode = record\n"
    )
    result = run(runner)
    result.assert_outcomes(passed=4)
    assert "(--relations-mode=record)" in result.stdout.str()


def test_bad_ini_value_is_a_usage_error(runner):
    runner.makepyfile(test_books=BOOKS)
    runner.makeini("[pytest]\nDJANGO_SETTINGS_MODULE = tests.settings\nrelations_mode = lazy\n")
    result = run(runner)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "relations_mode = 'lazy'; expected one of: raise, warn, record." in result.stderr.str()


def test_marker_and_fixtures_for_single_tests(runner):
    runner.makepyfile(
        test_single="""
        import pytest
        from relations import RelationNotLoaded
        from tests.conftest import data  # noqa: F401
        from tests.testapp.models import Author, Book


        def authors():
            return [b.author.name for b in Book.objects.order_by("pk")]


        @pytest.mark.relations(mode="record")
        def test_marker_record(data):
            assert len(authors()) == 4


        @pytest.mark.relations("lazy")
        def test_marker_lazy(data):
            assert len(authors()) == 4


        @pytest.mark.relations(allow=["testapp.Book.author"])
        def test_marker_allow(data):
            assert len(authors()) == 4


        def test_record_fixture(data, relations_record):
            authors()
            [site] = relations_record.report()
            assert site.relation == "testapp.Book.author" and site.n_plus_one


        def test_record_fixture_clean(data, relations_record):
            [b.author for b in Book.objects.select_related("author")]
            assert not relations_record.report()


        @pytest.mark.relations(mode="lazy")
        def test_raise_fixture_beats_the_marker(data, relations_raise):
            with pytest.raises(RelationNotLoaded):
                authors()


        def test_report_fixture_sees_blocked_reads(data, relations_report):
            with pytest.raises(RelationNotLoaded):
                Author.objects.get(name="Bob").publisher
            assert [s.blocked for s in relations_report.report()] == [1]


        def test_warn_fixture(data, relations_warn):
            with pytest.warns(Warning):
                authors()


        def test_plain_test_keeps_the_settings(data):
            with pytest.raises(RelationNotLoaded):
                authors()
        """
    )
    result = run(runner)
    result.assert_outcomes(passed=9)
    table = summary(result)
    rows = [line for line in table if line.startswith("testapp.")]
    # Recorded by the tests that asked: marker record, the fixtures (lazy and allow record nothing).
    lines = (runner.path / "test_single.py").read_text().splitlines()
    helper = next(i for i, text in enumerate(lines, 1) if "b.author.name" in text)
    # The helper's site: marker record (4), fixtures record (4), warn (4), raise (1 blocked).
    assert any(
        re.match(rf"testapp\.Book\.author\s+test_single\.py:{helper}\s+13 \(1 blocked\)\s+yes", r)
        and r.endswith("test_single.py::test_marker_record")
        for r in rows
    ), rows
    assert any(r.startswith("testapp.Author.publisher") for r in rows), rows


def test_no_summary_when_nothing_was_asked_for_is_quiet(runner):
    runner.makepyfile(test_plain="def test_nothing():\n    assert True\n")
    result = run(runner)
    result.assert_outcomes(passed=1)
    assert "lazy-load sites" not in result.stdout.str()


def test_no_lazy_loads_says_so(runner):
    runner.makepyfile(test_plain="def test_nothing():\n    assert True\n")
    result = run(runner, "--relations-mode=raise")
    result.assert_outcomes(passed=1)
    assert summary(result) == ["No lazy loads."]


# --------------------------------------------------------------------------
# End to end on the example bookstore

SHOP = """
import pytest

from bookstore.shop.models import Author, Book, Publisher
from bookstore.shop.reports import catalogue, catalogue_naive


@pytest.fixture
def shop(db):
    publisher = Publisher.objects.create(name="Faber")
    for name in ("Ada", "Bob", "Cy"):
        Book.objects.create(title=f"By {name}", author=Author.objects.create(name=name, publisher=publisher))


def test_catalogue_naive(shop):
    assert catalogue_naive() == ["By Ada by Ada", "By Bob by Bob", "By Cy by Cy"]


def test_catalogue(shop):
    assert catalogue() == ["By Ada by Ada", "By Bob by Bob", "By Cy by Cy"]
"""


def reports_line() -> int:
    lines = (EXAMPLE / "bookstore" / "shop" / "reports.py").read_text().splitlines()
    return next(i for i, t in enumerate(lines, 1) if "book.author.name" in t and "order_by" in t)


@pytest.fixture
def shop_runner(runner: pytest.Pytester) -> pytest.Pytester:
    runner.makeini("[pytest]\nDJANGO_SETTINGS_MODULE = bookstore.settings\n")
    runner.makepyfile(test_shop=SHOP)
    return runner


def test_example_project_raise_fails_the_planted_n_plus_one_only(shop_runner):
    result = run(shop_runner, "--relations-mode=raise")
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    assert "FAILED test_shop.py::test_catalogue_naive - relations.errors.RelationNotLoad" in out
    error = r"^E +relations\.errors\.RelationNotLoaded: Book\.author is not loaded on Book pk="
    assert re.search(error, out, re.M)
    assert "PASSED test_shop.py::test_catalogue" in out


def test_example_project_record_lists_the_planted_n_plus_one_only(shop_runner):
    result = run(shop_runner, "--relations-mode=record")
    result.assert_outcomes(passed=2)
    rows = [line for line in summary(result) if line.startswith("shop.")]
    assert len(rows) == 1, rows
    location = f"{EXAMPLE / 'bookstore' / 'shop' / 'reports.py'}:{reports_line()}"  # outside the cwd
    assert rows[0].split()[:4] == ["shop.Book.author", location, "3", "yes"]
    assert rows[0].split()[4] == "test_shop.py::test_catalogue_naive"
