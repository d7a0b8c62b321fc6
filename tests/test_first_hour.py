"""The first hour of a new project (issue 10), as its developer meets it.

A project directory of its own (settings, an app, a template, a view, a management
command and a pytest test file), run in subprocesses: ``manage.py shell -c``, the
plain REPL, IPython, a management command, a pytest run and Django's debug page.
The project's database is an SQLite file of its own.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent

FILES = {
    "manage.py": """
        import os, sys
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "site_conf.settings")
        from django.core.management import execute_from_command_line
        execute_from_command_line(sys.argv)
    """,
    "site_conf/__init__.py": "",
    "site_conf/settings.py": """
        import json, os
        from pathlib import Path
        BASE_DIR = Path(__file__).resolve().parent.parent
        SECRET_KEY = "first-hour"
        DEBUG = os.environ.get("FH_DEBUG") == "1"
        ALLOWED_HOSTS = ["*"]
        INSTALLED_APPS = ["relations", "django.contrib.contenttypes", "django.contrib.auth", "shop"]
        DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}}
        ROOT_URLCONF = "site_conf.urls"
        TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}]
        DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
        USE_TZ = True
        if os.environ.get("FH_RELATIONS"):
            RELATIONS = json.loads(os.environ["FH_RELATIONS"])
    """,
    "site_conf/urls.py": """
        from django.urls import path
        from shop import views
        urlpatterns = [path("book/", views.book_detail), path("books/", views.book_list)]
    """,
    "shop/__init__.py": "",
    "shop/models.py": """
        from django.db import models

        class Author(models.Model):
            name = models.CharField(max_length=50)

        class Profile(models.Model):
            author = models.OneToOneField(Author, models.CASCADE)
            bio = models.CharField(max_length=50)

            def __str__(self):
                return f"{self.bio} of {self.author.name}"

        class Book(models.Model):
            title = models.CharField(max_length=50)
            author = models.ForeignKey(
                Author, models.CASCADE, related_name="books", related_query_name="book"
            )
    """,
    "shop/views.py": """
        from django.http import HttpResponse
        from django.shortcuts import render
        from shop.models import Book

        def book_detail(request):
            book = Book.objects.first()
            return HttpResponse(book.author.name)  # line 7: the read

        def book_list(request):
            return render(request, "shop/books.html", {"books": Book.objects.all()})
    """,
    "shop/templates/shop/books.html": (
        "<h1>Books</h1>\n{% for b in books %}{{ b.title }} by {{ b.author.name }}\n{% endfor %}\n"
    ),
    "shop/management/__init__.py": "",
    "shop/management/commands/__init__.py": "",
    "shop/management/commands/show.py": """
        import asyncio, logging
        from django.core.management.base import BaseCommand
        from shop.models import Book, Profile

        logger = logging.getLogger("shop")

        class Command(BaseCommand):
            def add_arguments(self, parser):
                parser.add_argument("what")

            def handle(self, *, what, **options):
                profile = Profile.objects.get()
                if what == "read":
                    print(Book.objects.first().author.name)
                elif what == "display":
                    print(profile)
                    shown = f"f-string: {profile}; str: {str(profile)}; repr: {profile!r}"
                    print(f"{shown}; format: {format(profile)}")
                    logger.warning("saved %s", profile)
                    import relations
                    print("report:", [s.relation for s in relations.report()])
                elif what == "display-async":
                    async def main():
                        print(f"in a loop: {profile}; {profile!r}")
                        logger.warning("saved %s", profile)
                    asyncio.run(main())
                elif what == "read-async":
                    async def main():
                        book = await Book.objects.afirst()
                        book.author
                    asyncio.run(main())
    """,
    "test_shop.py": """
        import pytest
        from shop.models import Author, Book

        @pytest.mark.django_db
        def test_forward():
            Book.objects.create(title="T", author=Author.objects.create(name="Ada"))
            book = Book.objects.get()
            assert book.author.name == "Ada"  # the forward read

        @pytest.mark.django_db
        def test_reverse():
            Author.objects.create(name="Ada")
            author = Author.objects.get()
            assert list(author.books.all()) == []  # the reverse read
    """,
}

SEED = (
    "from shop.models import *; a = Author.objects.create(name='Ada'); "
    "Profile.objects.create(author=a, bio='Poet'); Book.objects.create(title='Notes', author=a)"
)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh project with its tables and one author, profile and book."""
    root = tmp_path_factory.mktemp("first_hour")
    for name, text in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    run(root, "manage.py", "migrate", "--run-syncdb", "-v0", check=True)
    run(root, "manage.py", "shell", "-c", SEED, check=True)
    return root


def run(
    root: Path,
    *args: str,
    relations: dict[str, Any] | None = None,
    stdin: str | None = None,
    check: bool = False,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``python *args`` in the project, with this checkout's ``relations``."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "RELATIONS_", "PYTEST_"))}
    extra = os.environ.get("RELATIONS_TEST_EXTRA_PATH", "")  # e.g. a private IPython install
    environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), str(root), extra) if p)
    environ["DJANGO_SETTINGS_MODULE"] = "site_conf.settings"
    if relations is not None:
        environ["FH_RELATIONS"] = json.dumps(relations)
    environ.update(env or {})
    done = subprocess.run(
        [sys.executable, *args],
        cwd=root,
        env=environ,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check:
        assert done.returncode == 0, done.stderr
    return done


READ = "from shop.models import Book; print('author:', Book.objects.first().author.name)"


# --------------------------------------------------------------------------
# 3. Interactive use


def test_shell_c_loads_with_the_default_settings(project):
    done = run(project, "manage.py", "shell", "-c", READ)
    assert done.returncode == 0, done.stderr
    assert "author: Ada" in done.stdout


def test_shell_reading_stdin_loads(project):
    done = run(project, "manage.py", "shell", stdin=READ + "\n")
    assert done.returncode == 0, done.stderr
    assert "author: Ada" in done.stdout


def test_shell_mode_raise_makes_the_shell_strict(project):
    done = run(project, "manage.py", "shell", "-c", READ, relations={"SHELL_MODE": "raise"})
    assert done.returncode != 0
    assert "RelationNotLoaded: Book.author is not loaded on Book pk=1" in done.stderr
    assert 'RELATIONS mode "raise"' in done.stderr


def test_shell_mode_none_follows_mode(project):
    done = run(project, "manage.py", "shell", "-c", READ, relations={"SHELL_MODE": None, "MODE": "raise"})
    assert "RelationNotLoaded" in done.stderr
    done = run(project, "manage.py", "shell", "-c", READ, relations={"SHELL_MODE": None, "MODE": "lazy"})
    assert "author: Ada" in done.stdout, done.stderr


def test_a_bad_shell_mode_is_a_clear_error(project):
    done = run(project, "manage.py", "shell", "-c", READ, relations={"SHELL_MODE": "loose"})
    assert done.returncode != 0
    assert (
        "ImproperlyConfigured: RELATIONS[\"SHELL_MODE\"] is 'loose'; expected one of: "
        "raise, warn, lazy, n_plus_one, record, or None." in done.stderr
    )


def test_other_commands_stay_strict(project):
    done = run(project, "manage.py", "show", "read")
    assert done.returncode != 0
    assert "RelationNotLoaded: Book.author is not loaded" in done.stderr


REPL_SETUP = "import django; django.setup()\n"


def test_plain_repl_loads(project):
    done = run(project, "-i", "-q", stdin=REPL_SETUP + READ + "\n")
    assert "author: Ada" in done.stdout, done.stderr
    assert "RelationNotLoaded" not in done.stderr


@pytest.mark.parametrize("call", ["relations.mode('lazy').__enter__()", "relations.set_mode('lazy')"])
def test_a_plain_call_sets_the_mode_for_the_rest_of_a_session(project, call):
    """A strict REPL, one statement per line as typed at the prompt."""
    before = READ.replace("author:", "before:")
    session = REPL_SETUP + f"import relations\n{before}\n{call}\n{READ}\n"
    done = run(project, "-i", "-q", stdin=session, relations={"SHELL_MODE": "raise"})
    assert "before:" not in done.stdout
    assert "RelationNotLoaded: Book.author is not loaded" in done.stderr
    assert "author: Ada" in done.stdout, done.stderr


def _has_ipython(project: Path) -> bool:
    return run(project, "-c", "import IPython").returncode == 0


def test_ipython_loads(project):
    if not _has_ipython(project):
        pytest.skip("IPython is not installed (RELATIONS_TEST_EXTRA_PATH can point at one)")
    done = run(project, "-m", "IPython", "--no-banner", "--colors=nocolor", "-c", REPL_SETUP + READ)
    assert "author: Ada" in done.stdout, done.stdout + done.stderr
    done = run(project, "manage.py", "shell", "-i", "ipython", stdin=READ + "\n")
    assert "author: Ada" in done.stdout, done.stdout + done.stderr


# --------------------------------------------------------------------------
# 4. Display and logging


def test_display_loads_in_sync_code_and_the_log_record_is_kept(project):
    done = run(project, "manage.py", "show", "display")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[:3] == [
        "Poet of Ada",
        "f-string: Poet of Ada; str: Poet of Ada; repr: <Profile: Poet of Ada>; format: Poet of Ada",
        "report: ['shop.Profile.author']",
    ]
    assert "saved Poet of Ada" in done.stderr
    assert "Logging error" not in done.stderr


def test_display_inside_an_event_loop_falls_back_and_the_log_record_is_kept(project):
    done = run(project, "manage.py", "show", "display-async")
    assert done.returncode == 0, done.stderr
    assert "in a loop: Profile object (1); <Profile: Profile object (1)>" in done.stdout
    assert "saved Profile object (1)" in done.stderr
    assert "Logging error" not in done.stderr


# --------------------------------------------------------------------------
# 5. Tracebacks that point at the user


def _traceback_section(output: str, test: str) -> str:
    start = output.index(f"_ {test} _")
    end = output.find("\n____", start + 1)
    return output[start : end if end != -1 else None]


def test_pytest_shows_the_users_line_and_no_library_frame(project):
    done = run(project, "-m", "pytest", "-p", "no:cacheprovider", "-l", "test_shop.py")
    assert done.returncode == 1, done.stdout + done.stderr
    for test, line in (("test_forward", "book.author.name"), ("test_reverse", "list(author.books.all())")):
        section = _traceback_section(done.stdout, test)
        assert f">       assert {line}" in section, section
        for library in ("descriptors/", "relations/", "guard.py", "modes.py"):
            assert library not in section, section
        assert re.search(r"^E +relations\.errors\.RelationNotLoaded: ", section, re.M), section
        assert re.search(r"test_shop\.py:\d+: RelationNotLoaded", section), section


CLIENT = """
import django; django.setup()
from django.test import Client
response = Client(raise_request_exception=False).get({url!r}, headers={{"accept": "text/html"}})
print(response.status_code)
print(response.content.decode())
"""


def _debug_page(project: Path, url: str) -> str:
    done = run(project, "-c", CLIENT.format(url=url), env={"FH_DEBUG": "1"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("500\n"), done.stdout[:500]
    return done.stdout


def _exception_location(page: str) -> str:
    found = re.search(r"<th[^>]*>Exception Location:</th>\s*<td>(.*?)</td>", page, re.S)
    assert found, page[:3000]
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


def test_debug_page_names_the_views_line(project):
    page = _debug_page(project, "/book/")
    location = _exception_location(page)
    assert re.fullmatch(r".*shop/views\.py, line 7, in book_detail", location), location
    assert "relations" not in location


def test_debug_page_of_a_template_read_shows_the_template_line_and_the_view(project):
    page = _debug_page(project, "/books/")
    assert "Error during template rendering" in page
    assert re.search(r"shop/books\.html</code>, error at line <strong>2</strong>", page), page[:3000]
    assert "relations" not in _exception_location(page)
    assert (
        "It was read while rendering the template &quot;shop/templates/shop/books.html&quot;, line 2: "
        "load it in the queryset of the view (shop.views.book_list) that renders it." in page
    )
    assert "in the view&#x27;s queryset that fetches Book rows: .select_related(&quot;author&quot;)" in page


# --------------------------------------------------------------------------
# 6. Fixes that fit the context


def test_sync_message_suggests_the_sync_fixes(project):
    done = run(project, "manage.py", "show", "read")
    assert (
        '  - in the queryset that fetches Book rows: .select_related("author")\n'
        '  - on this instance: book.R("author").sync()\n'
        '  - on a list of instances: prefetch(book_list, "author")\n'
    ) in done.stderr
    assert "await" not in done.stderr


def test_async_message_suggests_the_async_fixes(project):
    done = run(project, "manage.py", "show", "read-async")
    assert "(inside a running event loop nothing loads implicitly)" in done.stderr
    assert (
        '  - on this instance: await book.R("author")\n'
        '  - on a list of instances: await aprefetch(book_list, "author")\n'
    ) in done.stderr


# --------------------------------------------------------------------------
# 9. Related query names


def test_query_name_says_which_accessor_to_use(project):
    code = "from relations import R; from shop.models import Author; R(Author.objects.first(), 'book')"
    done = run(project, "manage.py", "shell", "-c", code)
    assert (
        'relations.errors.UnknownRelation: "book" is the query name of the reverse relation Author.books '
        '(the name for filters: Author.objects.filter(book__...)); on an instance the relation is "books". '
        "Relations of Author: books, profile."
    ) in done.stderr
