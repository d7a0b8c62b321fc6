"""The lazy-load report: record mode, warn, raise, allow-lists, capture, thread safety.

End to end on the example bookstore: the planted N+1 of ``shop/reports.py`` is in
the report of a ``record`` run, and its fixed version adds nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import warnings
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.db.models import Prefetch
from django.template.loader import render_to_string
from django.test import override_settings

import relations
from relations import RelationLazyLoadWarning, RelationNotLoaded, allow, mode
from relations.report import Recorder, Site, capture, user_location
from tests.conftest import queries
from tests.testapp.models import Author, Book

HERE = __file__
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def fresh_report():
    relations.report(reset=True)
    yield
    relations.report(reset=True)


def line_of(marker: str) -> int:
    """The line of this file that contains ``marker`` (in a comment)."""
    source = Path(HERE).read_text().splitlines()
    hits = [i for i, text in enumerate(source, 1) if text.rstrip().endswith(f"# {marker}")]
    assert len(hits) == 1, marker
    return hits[0]


def only_site(sites: Any) -> Site:
    assert len(sites) == 1, list(sites)
    return sites[0]


def names(books: list[Book]) -> list[str]:
    return [b.author.name for b in books]  # site: names


# --------------------------------------------------------------------------
# record mode


def test_record_mode_loads_silently_and_records_the_site(data):
    with mode("record"), warnings.catch_warnings(), queries() as q:
        warnings.simplefilter("error")
        result = [b.author.name for b in Book.objects.order_by("pk")]  # site: loop
    assert result == ["Ada", "Ada", "Bob", "Cy"]
    assert len(q) == 5  # the books, then one query per book: the N+1
    site = only_site(relations.report())
    assert site.relation == "testapp.Book.author"
    assert (site.path, site.line) == (HERE, line_of("site: loop"))
    assert site.function == "test_record_mode_loads_silently_and_records_the_site"
    assert site.location == f"{os.path.relpath(HERE)}:{line_of('site: loop')}"
    assert site.count == 4
    assert site.blocked == 0
    assert site.n_plus_one is True
    assert site.kind == "forward foreign key"
    assert site.fix == 'select_related("author")'


def test_the_site_is_the_users_line_not_a_helper_of_this_library(data):
    books = list(Book.objects.order_by("pk"))
    with mode("record"):
        names(books)
    site = only_site(relations.report())
    assert (site.path, site.line, site.function) == (HERE, line_of("site: names"), "names")


def test_one_instance_is_not_an_n_plus_one(data):
    with mode("record"):
        for title in ("B1", "B2"):
            Book.objects.get(title=title).author  # noqa: B018
    site = only_site(relations.report())
    assert site.count == 2
    assert site.n_plus_one is False  # two reads, but each instance was fetched alone


def test_one_read_per_result_is_not_an_n_plus_one(data):
    with mode("record"):
        for _ in range(3):
            Book.objects.order_by("pk")[0].author  # noqa: B018
            list(Book.objects.order_by("pk"))[0].author  # noqa: B018, RUF015
    assert [s.n_plus_one for s in relations.report()] == [False, False]


def test_to_many_relations_are_recorded(data):
    with mode("record"):
        counts = [len(b.tags.all()) for b in Book.objects.order_by("pk")]
        [a.books.count() for a in Author.objects.order_by("pk")]  # site: count
    assert counts == [2, 1, 3, 0]
    by_relation = {s.relation: s for s in relations.report()}
    assert by_relation["testapp.Book.tags"].count == 4
    assert by_relation["testapp.Book.tags"].n_plus_one
    assert by_relation["testapp.Book.tags"].fix == 'prefetch_related("tags")'
    assert by_relation["testapp.Author.books"].line == line_of("site: count")


def test_loaded_reads_record_nothing(data):
    with mode("record"), queries() as q:
        books = list(Book.objects.select_related("author").prefetch_related("tags").order_by("pk"))
        [(b.author.name, list(b.tags.all())) for b in books]
    assert len(q) == 2
    assert len(relations.report()) == 0


def test_prefetch_to_attr_then_manager_is_recorded(data):
    authors = Author.objects.prefetch_related(Prefetch("books", to_attr="book_list")).order_by("pk")
    with mode("record"):
        [len(a.book_list) for a in authors]
        [len(a.books.all()) for a in authors]
    site = only_site(relations.report())
    assert site.relation == "testapp.Author.books"


def test_template_reads_blame_the_template_line(data):
    book = Book.objects.get(title="B1")
    with mode("record"):
        render_to_string("testapp/book_detail.html", {"book": book})
    by_relation = {s.relation: s for s in relations.report()}
    author = by_relation["testapp.Book.author"]
    assert author.path.endswith(os.path.join("templates", "testapp", "book_detail.html"))
    assert (author.line, author.function) == (2, "<template>")
    assert by_relation["testapp.Book.tags"].line == 3


# --------------------------------------------------------------------------
# warn and raise record too; lazy does not


def test_warn_mode_records_and_still_warns(data):
    with mode("warn"), pytest.warns(RelationLazyLoadWarning):
        [b.author for b in Book.objects.order_by("pk")]
    site = only_site(relations.report())
    assert (site.count, site.blocked, site.n_plus_one) == (4, 0, True)


def test_raise_mode_records_the_blocked_read_with_its_message(data):
    books = list(Book.objects.order_by("pk"))
    with pytest.raises(RelationNotLoaded) as exc:
        [b.author for b in books]
    site = only_site(relations.report())
    assert (site.count, site.blocked) == (1, 1)
    assert site.message == str(exc.value)
    # The loop stopped at its first item; that item came from a multi-row result.
    assert site.n_plus_one is True


def test_n_plus_one_mode_records_what_it_blocks(data):
    with mode("n_plus_one"):
        Book.objects.get(title="B1").author  # noqa: B018 - allowed, not recorded
        with pytest.raises(RelationNotLoaded):
            [b.author for b in Book.objects.order_by("pk")]
    site = only_site(relations.report())
    assert (site.count, site.blocked, site.n_plus_one) == (1, 1, True)


def test_lazy_mode_records_nothing(data):
    with mode("lazy"):
        [b.author for b in Book.objects.order_by("pk")]
    assert len(relations.report()) == 0


def test_framework_accesses_are_not_recorded(data):
    book = Book.objects.get(title="B1")
    with mode("record"):
        book.delete()  # the deletion collector reads relations: Django's business
    assert len(relations.report()) == 0


def test_settings_mode_record(data):
    with override_settings(RELATIONS={"MODE": "record"}):
        [b.editor for b in Book.objects.order_by("pk")]
    site = only_site(relations.report())
    assert site.relation == "testapp.Book.editor"
    assert site.count == 2  # B2 and B4 have no editor: no query, nothing to record


# --------------------------------------------------------------------------
# the Report object


def test_report_is_a_snapshot_sorted_by_count_with_a_table_and_json(data):
    with mode("record"):
        [b.author for b in Book.objects.order_by("pk")]
        Author.objects.get(name="Bob").publisher  # noqa: B018
    report = relations.report()
    assert [s.count for s in report] == [4, 1]
    assert report.total == 5
    assert [s.relation for s in report.n_plus_one] == ["testapp.Book.author"]
    assert report.summary() == "2 lazy-load sites, 5 reads, 1 N+1"
    table = report.table().splitlines()
    assert table[0].split() == ["relation", "location", "count", "N+1", "fix"]
    assert table[2].split()[0] == "testapp.Book.author"
    assert table[2].split()[2:4] == ["4", "yes"]
    data_ = json.loads(report.to_json())
    assert data_["sites"][0]["relation"] == "testapp.Book.author"
    assert data_["sites"][0]["n_plus_one"] is True
    assert str(report).startswith("2 lazy-load sites")
    # A snapshot: later reads do not change it.
    with mode("record"):
        Author.objects.get(name="Bob").publisher  # noqa: B018
    assert report.total == 5
    assert relations.report().total == 6


def test_report_reset(data):
    with mode("record"):
        Author.objects.get(name="Bob").publisher  # noqa: B018
    assert len(relations.report(reset=True)) == 1
    assert len(relations.report()) == 0
    assert str(relations.report()) == "No lazy loads recorded."


def test_capture_collects_the_block_only(data):
    with mode("record"):
        Author.objects.get(name="Bob").publisher  # noqa: B018
        with capture() as rec:
            [b.author for b in Book.objects.order_by("pk")]
        Author.objects.get(name="Ada").publisher  # noqa: B018
    assert [s.relation for s in rec.report()] == ["testapp.Book.author"]
    assert len(relations.report()) == 3  # the process-wide report has all of them


@pytest.mark.django_db(transaction=True)
def test_capture_is_private_to_a_thread(data):
    seen = []

    def elsewhere():
        try:
            with mode("record"):
                seen.append(Author.objects.get(name="Bob").publisher)
        finally:
            connection.close()

    with capture() as rec:
        thread = threading.Thread(target=elsewhere)
        thread.start()
        thread.join()
    assert seen and len(rec) == 0
    assert len(relations.report()) == 1


@pytest.mark.django_db(transaction=True)
def test_recording_is_thread_safe(data):
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def work():
        try:
            books = list(Book.objects.order_by("pk"))
            barrier.wait()
            with mode("record"):
                for _ in range(5):
                    for b in books:
                        b.__dict__.get("_state").fields_cache.pop("author", None)
                        b.author  # noqa: B018
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    site = only_site(relations.report())
    assert site.count == 8 * 5 * 4
    assert site.n_plus_one


def test_fast_path_does_not_record(data, monkeypatch):
    calls = []
    monkeypatch.setattr("relations.policy.modes.record", lambda *a, **k: calls.append(a))
    books = list(Book.objects.select_related("author").order_by("pk"))
    with mode("record"):
        [b.author for b in books]
    assert calls == []
    with mode("record"):
        Author.objects.get(name="Bob").publisher  # noqa: B018
    assert len(calls) == 1


def test_recorder_keeps_a_bounded_number_of_sites(monkeypatch):
    from relations.report import _Event

    # ``relations.report`` is the function; the module is in sys.modules.
    monkeypatch.setattr(sys.modules["relations.report"], "MAX_SITES", 2)
    rec = Recorder()
    for line in range(5):
        rec.add(_Event(("r", "p", line), "r", "f", "k", "fix", None, line, False, ""))
    report = rec.report()
    assert len(report) == 2 and report.dropped == 3
    assert "3 more sites not kept" in report.table()


def test_user_location_without_a_frame():
    assert user_location(None) == ("unknown", 0, "")


# --------------------------------------------------------------------------
# allow-lists


@pytest.mark.parametrize("current", ["raise", "warn", "record", "n_plus_one"])
def test_allowed_relation_in_settings_loads_silently_in_every_mode(data, current):
    books = list(Book.objects.order_by("pk"))
    settings = {"MODE": current, "ALLOW_RELATIONS": ["testapp.book.AUTHOR"]}  # case-insensitive
    with override_settings(RELATIONS=settings):
        with warnings.catch_warnings(), queries() as q:
            warnings.simplefilter("error")
            assert [b.author.name for b in books] == ["Ada", "Ada", "Bob", "Cy"]
        assert len(q) == 4
        assert len(relations.report()) == 0
        # Not allowed: the mode applies.
        if current in ("raise", "n_plus_one"):
            with pytest.raises(RelationNotLoaded):
                [b.editor for b in books]
        elif current == "warn":
            with pytest.warns(RelationLazyLoadWarning):
                [b.editor for b in books]
        else:
            [b.editor for b in books]
    assert [s.relation for s in relations.report()] == ["testapp.Book.editor"]


def test_allowed_relation_wildcards(data):
    books = list(Book.objects.order_by("pk"))
    with override_settings(RELATIONS={"ALLOW_RELATIONS": ["testapp.Book.*"]}):
        [(b.author, b.editor, list(b.tags.all())) for b in books]
        with pytest.raises(RelationNotLoaded):
            Author.objects.get(name="Bob").publisher  # noqa: B018


def test_allowed_location_in_settings(data):
    books = list(Book.objects.order_by("pk"))
    here = os.path.relpath(HERE)
    with override_settings(RELATIONS={"ALLOW_LOCATIONS": ["tests/test_report.py"]}):
        [b.author for b in books]
    with override_settings(RELATIONS={"ALLOW_LOCATIONS": [f"*/{Path(here).name}"]}):
        [b.author for b in books]
    assert len(relations.report()) == 0


def test_allowed_location_with_a_line(data):
    books = list(Book.objects.order_by("pk"))
    allowed_line = line_of("site: allowed line")
    with override_settings(RELATIONS={"ALLOW_LOCATIONS": [f"test_report.py:{allowed_line}"]}):
        [b.author for b in books]  # site: allowed line
        with pytest.raises(RelationNotLoaded):
            [b.editor for b in books]  # another line of the same file


def test_allow_context_manager(data):
    books = list(Book.objects.order_by("pk"))
    with allow("testapp.Book.author"):
        [b.author for b in books]
        with pytest.raises(RelationNotLoaded):
            [b.editor for b in books]
        with allow(locations=["*test_report.py"]):
            [b.editor for b in books]
    with pytest.raises(RelationNotLoaded):
        [b.author for b in Book.objects.order_by("pk")]


@pytest.mark.django_db(transaction=True)
def test_allow_context_manager_is_private_to_a_thread(data):
    outcome = []

    def elsewhere():
        try:
            Author.objects.get(name="Bob").publisher  # noqa: B018
        except RelationNotLoaded:
            outcome.append("raised")
        finally:
            connection.close()

    with allow("testapp.Author.publisher"):
        Author.objects.get(name="Bob").publisher  # noqa: B018
        thread = threading.Thread(target=elsewhere)
        thread.start()
        thread.join()
    assert outcome == ["raised"]


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((), {}, "allow() needs at least one relation pattern or location."),
        (("testapp.Book",), {}, 'is not an "app_label.ModelName.relation" pattern'),
        ((), {"locations": [""]}, "is empty"),
    ],
)
def test_allow_rejects_bad_patterns(args, kwargs, message):
    with pytest.raises(ValueError) as exc, allow(*args, **kwargs):
        pass
    assert message in str(exc.value)


def test_allowed_reads_still_raise_inside_an_event_loop(data):
    from asgiref.sync import async_to_sync

    book = Book.objects.get(title="B1")

    async def read():
        with allow("testapp.Book.author"):
            return book.author

    with pytest.raises(RelationNotLoaded):
        async_to_sync(read)()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            {"ALLOW_RELATIONS": "testapp.Book.author"},
            'RELATIONS["ALLOW_RELATIONS"] must be a list of strings.',
        ),
        ({"ALLOW_RELATIONS": ["testapp.Book"]}, 'is not an "app_label.ModelName.relation" pattern'),
        ({"ALLOW_LOCATIONS": [3]}, 'RELATIONS["ALLOW_LOCATIONS"] must be a list of strings, not 3.'),
        ({"REPORT_AT_EXIT": "yes"}, 'RELATIONS["REPORT_AT_EXIT"] must be True or False.'),
        ({"MODE": "recorded"}, "expected one of: raise, warn, lazy, n_plus_one, record."),
    ],
)
def test_invalid_report_settings(data, value, message):
    from django.core.exceptions import ImproperlyConfigured

    book = Book.objects.get(title="B1")
    with override_settings(RELATIONS=value), pytest.raises(ImproperlyConfigured) as exc:
        book.author  # noqa: B018
    assert message in str(exc.value)


# --------------------------------------------------------------------------
# REPORT_AT_EXIT, and the example project end to end (subprocesses)

SCRIPT = """
import json, os, sys
sys.path[:0] = [{example!r}, {root!r}]
os.environ["DJANGO_SETTINGS_MODULE"] = "bookstore.settings"
os.environ["BOOKSTORE_DB"] = {db!r}
import django
from django.conf import settings
django.setup()
settings.RELATIONS = {{"MODE": "record", "REPORT_AT_EXIT": True}}
from django.core.management import call_command
call_command("migrate", verbosity=0)
from bookstore.shop.models import Author, Book, Publisher
p = Publisher.objects.create(name="P")
for i in range(3):
    a = Author.objects.create(name=f"A{{i}}", publisher=p)
    Book.objects.create(title=f"B{{i}}", author=a)
import relations
from bookstore.shop import reports
fixed = reports.catalogue()
after_fixed = relations.report().as_dicts()
naive = reports.catalogue_naive()
assert naive == fixed
print(json.dumps({{"after_fixed": after_fixed, "after_naive": relations.report().as_dicts()}}))
"""


def run_example_script(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    script = SCRIPT.format(example=str(ROOT / "example"), root=str(ROOT), db=str(tmp_path / "shop.sqlite3"))
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=str(ROOT), timeout=120
    )


def test_example_project_report_finds_the_planted_n_plus_one_and_not_the_fix(tmp_path):
    result = run_example_script(tmp_path)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["after_fixed"] == []  # catalogue(): nothing to report
    site = only_site(out["after_naive"])
    reports_py = ROOT / "example" / "bookstore" / "shop" / "reports.py"
    lines = reports_py.read_text().splitlines()
    expected = next(i for i, t in enumerate(lines, 1) if "book.author.name" in t and "order_by" in t)
    assert site["relation"] == "shop.Book.author"
    assert (site["path"], site["line"]) == (str(reports_py), expected)
    assert (site["count"], site["n_plus_one"], site["blocked"]) == (3, True, 0)
    # REPORT_AT_EXIT: the summary is logged when the process exits.
    assert "Lazy-load report: 1 lazy-load site, 3 reads, 1 N+1" in result.stderr
    assert "shop.Book.author" in result.stderr.split("Lazy-load report:")[1]
