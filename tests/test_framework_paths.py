"""Installing the library must not break Django itself (foundation issue, part 12,
and the migration-churn check of part 2).

The rule under test, as documented in ``relations/policy/callsite.py`` and the README:
an unloaded relation read is a *framework access* when one of Django's framework
packages (``django.contrib.admin``, ``django.contrib.auth``, ``django.forms``,
``django.core.serializers``, ``django.db.models.base``, ``django.db.models.deletion``,
``django.db.migrations``) is running anywhere on the stack, which includes user code
the framework calls (a ``list_display`` method, a form's ``clean()``, a ``__str__`` the
admin renders).  With the default settings (mode ``"raise"``) framework accesses load
lazily, as Django always did.  Everything else stays strict and raises
``RelationNotLoaded``: plain code, views, and templates.
``RELATIONS = {"STRICT_FRAMEWORK": True}`` makes framework accesses obey the mode.
Historical models (module ``__fake__``, inside migrations) always load lazily.

Every instance below is fetched alone, with no ``select_related``/``prefetch_related``,
so none of its relations is loaded unless the test loads it.  Queries are counted with
Django's ``CaptureQueriesContext``.
"""

from __future__ import annotations

import importlib
import io
import json
import re
from typing import Any

import pytest
from django.apps import apps as global_apps
from django.contrib import admin
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.admin.utils import lookup_field
from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.contrib.auth.models import Group, Permission, User
from django.contrib.contenttypes.models import ContentType
from django.core import serializers
from django.core.management import call_command
from django.db import connection, connections
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.db.models import ForeignObjectRel
from django.forms.models import model_to_dict
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template import Context, Template
from django.template.loader import render_to_string
from django.test import Client
from django.test.utils import override_settings
from django.urls import path, reverse
from django.views import View

from relations import R, RelationNotLoaded, mode, prefetch
from relations.descriptors import StrictForwardManyToOneDescriptor, StrictManyToManyDescriptor
from relations.descriptors.install import unreplaced
from relations.descriptors.to_many import ToManyGuard
from relations.descriptors.to_one import ForwardGuard, ReverseOneGuard
from tests.conftest import queries, run
from tests.testapp.admin import methods_site
from tests.testapp.forms import AuthorForm, BookForm, BookFormReadingAuthor
from tests.testapp.models import (
    Author,
    Book,
    Chapter,
    Comment,
    Membership,
    Place,
    Profile,
    Publisher,
    Restaurant,
    Tag,
)

migration_0002 = importlib.import_module("tests.testapp.migrations.0002_historical_relations")


# User views: request handling is not a framework package, so they stay strict, also
# behind Django's own login_required / LoginRequiredMixin.
def book_author_view(request: HttpRequest, pk: int) -> HttpResponse:
    return HttpResponse(Book.objects.get(pk=pk).author.name)


@login_required
def login_required_book_author_view(request: HttpRequest, pk: int) -> HttpResponse:
    return HttpResponse(Book.objects.get(pk=pk).author.name)


class LoginRequiredBookAuthorView(LoginRequiredMixin, View):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        return HttpResponse(Book.objects.get(pk=pk).author.name)


def book_template_view(request: HttpRequest, pk: int) -> HttpResponse:
    return render(request, "testapp/book_detail.html", {"book": Book.objects.get(pk=pk)})


def book_loaded_template_view(request: HttpRequest, pk: int) -> HttpResponse:
    book = Book.objects.select_related("author").prefetch_related("tags").get(pk=pk)
    return render(request, "testapp/book_detail.html", {"book": book})


# The URLconf of this module: Django's admin site, the site with list_display methods,
# and the user views.
urlpatterns = [
    path("admin/", admin.site.urls),
    path("methods-admin/", methods_site.urls),
    path("views/plain/<int:pk>/", book_author_view),
    path("views/login-required/<int:pk>/", login_required_book_author_view),
    path("views/login-required-mixin/<int:pk>/", LoginRequiredBookAuthorView.as_view()),
    path("views/template/<int:pk>/", book_template_view),
    path("views/loaded-template/<int:pk>/", book_loaded_template_view),
]
pytestmark = pytest.mark.urls(__name__)

STRICT_FRAMEWORK = {"RELATIONS": {"STRICT_FRAMEWORK": True}}


# --------------------------------------------------------------------------- helpers


def fresh(model: Any, **lookup: Any) -> Any:
    """One instance fetched alone: none of its relations is loaded."""
    return model._default_manager.get(**lookup)


def touching(ctx: Any, table: str) -> list[str]:
    """The captured SELECTs that read ``table``."""
    return [
        q["sql"]
        for q in ctx.captured_queries
        if q["sql"].startswith("SELECT") and f'FROM "{table}"' in q["sql"]
    ]


def result_rows(content: str) -> list[list[str]]:
    """The cells of the admin changelist's result table, without the checkbox column."""
    table = re.search(r'<table id="result_list">.*?<tbody>(.*?)</tbody>', content, re.S)
    assert table, "no result table"
    rows = []
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table.group(1), re.S):
        cells = re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)
        rows.append([re.sub(r"<[^>]+>", "", cell).strip() for cell in cells[1:]])
    return rows


def form_data(response: Any) -> dict[str, Any]:
    """POST data reproducing an admin change form as rendered (main form and inlines)."""
    data: dict[str, Any] = {}
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        forms.append(formset.management_form)
        forms.extend(formset.forms)
    for form in forms:
        for bound in form:
            value = bound.value()
            if value is None or value is False:
                continue
            if value is True:
                value = "on"
            data[bound.html_name] = [str(v) for v in value] if isinstance(value, list) else str(value)
    return data


@pytest.fixture
def superuser(db: Any) -> User:
    return User.objects.create_superuser("root", "root@example.com", "pw")


@pytest.fixture
def client(superuser: User) -> Client:
    client = Client()
    client.force_login(superuser)
    return client


@pytest.fixture
def book_change_url(data: dict[str, Any]) -> str:
    return reverse("admin:testapp_book_change", args=[data["books"][0].pk])


# ------------------------------------------------------------------- admin (defaults)


def test_admin_changelist_reads_fk_columns_lazily(client: Client, data: dict[str, Any]) -> None:
    """list_display FK columns with list_select_related=(): the admin reads them itself."""
    with queries() as q:
        response = client.get(reverse("admin:testapp_book_changelist"))
    assert response.status_code == 200
    # Default admin ordering is -pk; columns title, author, editor ("-" for NULL).
    assert result_rows(response.content.decode()) == [
        ["B4", "Cy", "-"],
        ["B3", "Bob", "Ada"],
        ["B2", "Ada", "-"],
        ["B1", "Ada", "Bob"],
    ]
    # One lazy load per non-null FK value read by the admin: 4 authors + 2 editors.
    assert len(touching(q, "testapp_author")) == 6


def test_admin_lookup_field_reads_unloaded_fk(data: dict[str, Any]) -> None:
    """The admin's own lookup_field (what renders a list_display / readonly FK column)."""
    book = fresh(Book, title="B1")
    model_admin = admin.site.get_model_admin(Book)
    with queries() as q:
        field, attr, value = lookup_field("author", book, model_admin)
    assert field is Book._meta.get_field("author")
    assert attr is None
    assert value == data["authors"][0] and value.name == "Ada"
    assert len(q) == 1
    with queries() as q:
        assert book.author is value  # cached by the lazy load: user code may read it now
    assert len(q) == 0
    null_editor = fresh(Book, title="B2")
    with queries() as q:
        assert lookup_field("editor", null_editor, model_admin)[2] is None
    assert len(q) == 0


def test_admin_changelist_generic_foreign_key_column(client: Client, data: dict[str, Any]) -> None:
    with queries() as q:
        response = client.get(reverse("admin:testapp_comment_changelist"))
    assert response.status_code == 200
    rows = result_rows(response.content.decode())
    # columns text, content type, target; -pk order
    assert [(row[0], row[2]) for row in rows] == [
        ("orphan, no target", "-"),
        ("on bob", "Bob"),
        ("again b1", "B1"),
        ("on b1", "B1"),
    ]
    assert len(touching(q, "testapp_book")) == 2
    assert len(touching(q, "testapp_author")) == 1


def test_admin_changelist_method_reading_unloaded_relation_loads_lazily(
    client: Client, data: dict[str, Any]
) -> None:
    """A list_display method on the ModelAdmin runs under django.contrib.admin: by the
    documented rule it is a framework access, so it loads lazily (the admin's N+1)."""
    with queries() as q:
        response = client.get("/methods-admin/testapp/book/")
    assert response.status_code == 200
    assert result_rows(response.content.decode()) == [
        ["B4", "Cy", "-"],  # Cy has no publisher: a NULL FK needs no query
        ["B3", "Bob", "Faber"],
        ["B2", "Ada", "Penguin"],
        ["B1", "Ada", "Penguin"],
    ]
    assert len(touching(q, "testapp_author")) == 4
    assert len(touching(q, "testapp_publisher")) == 3


def test_strict_framework_admin_changelist_method_raises(client: Client, data: dict[str, Any]) -> None:
    with override_settings(**STRICT_FRAMEWORK), pytest.raises(RelationNotLoaded) as exc:
        client.get("/methods-admin/testapp/book/")
    assert exc.value.relation == "author"
    assert "Book.author is not loaded" in str(exc.value)
    assert 'select_related("author")' in str(exc.value)


def test_admin_changelist_method_reading_prefetched_relation_works(
    client: Client, data: dict[str, Any]
) -> None:
    with queries() as q:
        response = client.get("/methods-admin/testapp/author/")
    assert response.status_code == 200
    assert result_rows(response.content.decode()) == [["Cy", "B4"], ["Bob", "B3"], ["Ada", "B1, B2"]]
    assert len(touching(q, "testapp_book")) == 1  # the prefetch, nothing per row


def test_admin_change_form_book(client: Client, data: dict[str, Any], book_change_url: str) -> None:
    """FK select, M2M filter_horizontal, a read-only FK, a FK inline, a raw-id FK inline
    and a generic inline, all for an instance whose relations are not loaded."""
    b1 = data["books"][0]
    ada, bob, _ = data["authors"]
    sf, poetry, essay = data["tags"]
    response = client.get(book_change_url)
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert form.instance.pk == b1.pk
    assert form.initial["author"] == ada.pk
    assert {t.pk for t in form.initial["tags"]} == {sf.pk, poetry.pk}
    content = response.content.decode()
    assert re.search(rf'<option value="{ada.pk}" selected>Ada</option>', content)
    assert re.search(rf'<option value="{sf.pk}" selected>sf</option>', content)
    assert re.search(rf'<option value="{poetry.pk}" selected>poetry</option>', content)
    assert re.search(rf'<option value="{essay.pk}">essay</option>', content)
    # read-only editor, rendered by the admin as a link to Bob's change page
    assert reverse("admin:testapp_author_change", args=[bob.pk]) + '">Bob</a>' in content
    inlines = {fs.formset.prefix: fs.formset for fs in response.context["inline_admin_formsets"]}
    assert [f.instance.number for f in inlines["chapters"].forms] == [1]  # default manager hides deleted
    assert [f.initial["created_by"] for f in inlines["reviews"].forms] == [bob.pk]
    comment_prefix = "testapp-comment-content_type-object_id"
    assert sorted(f.instance.text for f in inlines[comment_prefix].forms) == ["again b1", "on b1"]
    assert 'value="on b1"' in content and 'value="again b1"' in content


def test_admin_change_form_post_saves_then_history_and_index(
    client: Client, data: dict[str, Any], book_change_url: str
) -> None:
    b1 = data["books"][0]
    bob = data["authors"][1]
    essay = data["tags"][2]
    post = form_data(client.get(book_change_url))
    assert post["chapters-TOTAL_FORMS"] == "1" and post["reviews-TOTAL_FORMS"] == "1"
    post.update({"title": "B1 revised", "author": str(bob.pk), "tags": [str(essay.pk)]})
    response = client.post(book_change_url, post)
    assert response.status_code == 302, response.context and [
        response.context["adminform"].form.errors,
        [fs.formset.errors for fs in response.context["inline_admin_formsets"]],
    ]
    book = Book.objects.select_related("author").prefetch_related("tags").get(pk=b1.pk)
    assert book.title == "B1 revised"
    assert book.author == bob
    assert [t.name for t in book.tags.all()] == ["essay"]
    assert Chapter.all_objects.filter(book=b1).count() == 2
    assert b1.comments.filter().count() == 2
    entry = LogEntry.objects.get()
    assert entry.action_flag == CHANGE and entry.object_id == str(b1.pk)

    response = client.get(reverse("admin:testapp_book_history", args=[b1.pk]))
    assert response.status_code == 200
    assert "Changed Title, Author and Tags." in response.content.decode()
    response = client.get(reverse("admin:index"))
    assert response.status_code == 200
    assert "B1 revised" in response.content.decode()  # the "recent actions" box


def test_admin_author_change_form_reverse_one_to_one_and_through_inlines(
    client: Client, data: dict[str, Any]
) -> None:
    ada = data["authors"][0]
    response = client.get(reverse("admin:testapp_author_change", args=[ada.pk]))
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert form.initial["publisher"] == data["publishers"][0].pk
    assert form.initial["mentor"] is None
    inlines = {fs.formset.prefix: fs.formset for fs in response.context["inline_admin_formsets"]}
    assert [f.instance.bio for f in inlines["profile"].forms if f.instance.pk] == ["ada bio"]
    assert [f.instance.role for f in inlines["membership_set"].forms] == ["chair"]
    assert "ada bio" in response.content.decode()


def test_admin_comment_change_form_readonly_generic_foreign_key(client: Client, data: dict[str, Any]) -> None:
    comment = Comment.objects.get(text="on bob")
    response = client.get(reverse("admin:testapp_comment_change", args=[comment.pk]))
    assert response.status_code == 200
    assert re.search(r'<div class="readonly">\s*Bob\s*</div>', response.content.decode())


def test_admin_delete_confirmation_author_nested_objects(client: Client, data: dict[str, Any]) -> None:
    ada, bob, _ = data["authors"]
    url = reverse("admin:testapp_author_delete", args=[ada.pk])
    response = client.get(url)
    assert response.status_code == 200
    assert dict(response.context["model_count"]) == {
        "authors": 1,
        "books": 2,
        "book-tag relationships": 3,
        "chapters": 2,  # the deletion collector uses the base manager: the deleted one too
        "comments": 2,
        "memberships": 1,
        "profiles": 1,
        "reviews": 1,
    }
    content = response.content.decode()
    for link in (
        reverse("admin:testapp_book_change", args=[data["books"][0].pk]) + '">B1</a>',
        reverse("admin:testapp_book_change", args=[data["books"][1].pk]) + '">B2</a>',
    ):
        assert link in content

    response = client.post(url, {"post": "yes"})
    assert response.status_code == 302
    assert not Author.objects.filter(pk=ada.pk).exists()
    assert sorted(Book.objects.values_list("title", flat=True)) == ["B3", "B4"]
    assert Author.objects.get(pk=bob.pk).mentor_id is None
    assert Book.objects.get(title="B3").editor_id is None


def test_admin_delete_selected_action(client: Client, data: dict[str, Any]) -> None:
    """The changelist's bulk "delete selected" action: confirmation page, then delete."""
    ada, bob, _ = data["authors"]
    url = reverse("admin:testapp_author_changelist")
    action = {"action": "delete_selected", "_selected_action": [str(ada.pk), str(bob.pk)]}
    response = client.post(url, action)
    assert response.status_code == 200
    assert dict(response.context["model_count"]) == {
        "authors": 2,
        "books": 3,
        "book-tag relationships": 6,
        "chapters": 2,
        "comments": 2,
        "memberships": 2,
        "profiles": 1,
        "reviews": 1,
    }
    response = client.post(url, {**action, "post": "yes"})
    assert response.status_code == 302
    assert list(Author.objects.values_list("name", flat=True)) == ["Cy"]
    assert list(Book.objects.values_list("title", flat=True)) == ["B4"]


def test_admin_staff_user_with_group_permissions(data: dict[str, Any]) -> None:
    """The auth backend resolves permissions through user.groups / group.permissions."""
    group = Group.objects.create(name="readers")
    group.permissions.add(Permission.objects.get(codename="view_book"))
    staff = User.objects.create_user("staff", password="pw", is_staff=True)
    staff.groups.add(group)
    client = Client()
    client.force_login(staff)
    assert client.get(reverse("admin:testapp_book_changelist")).status_code == 200
    assert client.get(reverse("admin:testapp_book_add")).status_code == 403
    assert client.get(reverse("admin:testapp_author_changelist")).status_code == 403


def chapter_str(chapter: Chapter) -> str:
    """A ``__str__`` reading a relation, as many projects write them."""
    return f"{chapter.book.title} #{chapter.number}"


@pytest.fixture
def chapter_str_reads_book(monkeypatch: pytest.MonkeyPatch) -> None:
    """Give Chapter the kind of ``__str__`` a project writes (models.py is shared)."""
    monkeypatch.setattr(Chapter, "__str__", chapter_str)


def test_admin_changelist_renders_str_that_reads_a_relation(
    client: Client, data: dict[str, Any], chapter_str_reads_book: None
) -> None:
    with queries() as q:
        response = client.get(reverse("admin:testapp_chapter_changelist"))
    assert response.status_code == 200
    assert result_rows(response.content.decode()) == [["B1 #1"]]
    assert len(touching(q, "testapp_book")) == 1


@pytest.mark.parametrize("page", ["change", "delete", "history"])
def test_admin_object_pages_render_str_that_reads_a_relation(
    client: Client, data: dict[str, Any], chapter_str_reads_book: None, page: str
) -> None:
    """The admin shows ``str(obj)`` in the breadcrumbs and title of its object pages.
    The README counts "a __str__ the admin renders" as a framework access, so the
    pages must render with the default settings.  (They do because the admin view calls
    ``str(obj)`` itself first, under django.contrib.admin, and the lazy load is cached
    before the template engine calls it again.)"""
    chapter = Chapter.objects.get(number=1)
    response = client.get(reverse(f"admin:testapp_chapter_{page}", args=[chapter.pk]))
    assert response.status_code == 200
    assert "B1 #1" in response.content.decode()


def test_admin_inline_renders_str_that_reads_a_relation(
    client: Client, data: dict[str, Any], chapter_str_reads_book: None, book_change_url: str
) -> None:
    """A tabular inline shows ``str()`` of each inline object (here the book's chapters).
    No admin code calls ``str()`` on the inline instances before the template engine
    does, and the template engine is not a framework package: the README's promise ("a
    __str__ the admin renders" is a framework access) is what this checks."""
    response = client.get(book_change_url)
    assert response.status_code == 200
    assert "B1 #1" in response.content.decode()


# ---------------------------------------------------------- forms, serializers, delete


def test_modelform_bound_to_instance_with_many_to_many(data: dict[str, Any]) -> None:
    b1 = data["books"][0]
    sf, _, essay = data["tags"]
    book = fresh(Book, pk=b1.pk)
    with queries() as q:
        form = BookForm(instance=book)
    assert len(q) == 1  # the tags; the FKs are read from author_id / editor_id
    assert form.initial["author"] == data["authors"][0].pk
    assert form.initial["editor"] == data["authors"][1].pk
    assert sorted(t.name for t in form.initial["tags"]) == ["poetry", "sf"]
    html = str(form["tags"])
    assert re.search(rf'<option value="{sf.pk}" selected>sf</option>', html)
    assert re.search(rf'<option value="{essay.pk}">essay</option>', html)

    bound = BookForm(
        {"title": "B1", "author": data["authors"][2].pk, "editor": data["authors"][0].pk, "tags": [essay.pk]},
        instance=fresh(Book, pk=b1.pk),
    )
    assert bound.is_valid(), bound.errors
    saved = bound.save()
    assert (saved.author_id, saved.editor_id) == (data["authors"][2].pk, data["authors"][0].pk)
    assert list(Book.objects.get(pk=b1.pk).tags.values_list("name", flat=True)) == ["essay"]


def test_modelform_without_many_to_many_runs_no_query(data: dict[str, Any]) -> None:
    bob = fresh(Author, name="Bob")
    with queries() as q:
        form = AuthorForm(instance=bob)
    assert len(q) == 0
    assert form.initial == {
        "name": "Bob",
        "publisher": data["publishers"][1].pk,
        "mentor": data["authors"][0].pk,
    }


def test_modelform_clean_reading_relation_is_a_framework_access(data: dict[str, Any]) -> None:
    """The form machinery calls clean(): by the documented rule its reads load lazily,
    unless STRICT_FRAMEWORK."""
    form = BookFormReadingAuthor({"title": "Ada"}, instance=fresh(Book, title="B1"))
    with queries() as q:
        assert not form.is_valid()
    assert len(q) == 1
    assert form.errors == {"__all__": ["A book cannot be named after its author."]}

    form = BookFormReadingAuthor({"title": "Ada"}, instance=fresh(Book, title="B1"))
    with override_settings(**STRICT_FRAMEWORK), pytest.raises(RelationNotLoaded) as exc:
        form.is_valid()
    assert exc.value.relation == "author"

    book = fresh(Book, title="B1")
    book.R("author").sync()
    form = BookFormReadingAuthor({"title": "Ada"}, instance=book)
    with override_settings(**STRICT_FRAMEWORK), queries() as q:
        assert not form.is_valid()
    assert len(q) == 0
    assert form.errors == {"__all__": ["A book cannot be named after its author."]}


def test_model_to_dict(data: dict[str, Any]) -> None:
    b1 = data["books"][0]
    book = fresh(Book, pk=b1.pk)
    with queries() as q:
        values = model_to_dict(book)
    assert len(q) == 1
    tags = values.pop("tags")
    assert values == {
        "id": b1.pk,
        "title": "B1",
        "author": data["authors"][0].pk,
        "editor": data["authors"][1].pk,
    }
    assert sorted(t.name for t in tags) == ["poetry", "sf"]
    # Only the many-to-many was loaded, and only for Django's own use: user code stays strict.
    with pytest.raises(RelationNotLoaded):
        _ = book.author


def test_serialize_json(data: dict[str, Any]) -> None:
    books = list(Book.objects.order_by("pk"))
    with queries() as q:
        payload = serializers.serialize("json", books)
    assert len(q) == 4  # one tags query per book
    rows = json.loads(payload)
    tags = {t.name: t.pk for t in data["tags"]}
    a1, a2, a3 = (a.pk for a in data["authors"])
    assert [(r["fields"]["title"], r["fields"]["author"], r["fields"]["editor"]) for r in rows] == [
        ("B1", a1, a2),
        ("B2", a1, None),
        ("B3", a2, a1),
        ("B4", a3, None),
    ]
    assert [sorted(r["fields"]["tags"]) for r in rows] == [
        sorted([tags["sf"], tags["poetry"]]),
        [tags["poetry"]],
        sorted(tags.values()),
        [],
    ]
    # Round trip: the deserializer restores the many-to-many rows.
    Book.tags.through.objects.all().delete()
    for obj in serializers.deserialize("json", payload):
        obj.save()
    assert Book.tags.through.objects.count() == 6
    assert sorted(Book.objects.get(title="B3").tags.values_list("name", flat=True)) == [
        "essay",
        "poetry",
        "sf",
    ]


def test_serialize_natural_keys(data: dict[str, Any]) -> None:
    """Natural keys read relations: user.groups, user.user_permissions and, inside
    Permission.natural_key(), permission.content_type."""
    perm = Permission.objects.get(codename="view_book")
    group = Group.objects.create(name="readers")
    user = User.objects.create_user("reader")
    user.groups.add(group)
    user.user_permissions.add(perm)

    payload = serializers.serialize("json", [fresh(User, pk=user.pk)], use_natural_foreign_keys=True)
    fields = json.loads(payload)[0]["fields"]
    assert fields["groups"] == [["readers"]]
    assert fields["user_permissions"] == [["view_book", "testapp", "book"]]

    payload = serializers.serialize(
        "json", [fresh(Permission, pk=perm.pk)], use_natural_foreign_keys=True, use_natural_primary_keys=True
    )
    row = json.loads(payload)[0]
    assert "pk" not in row
    assert row["fields"]["content_type"] == ["testapp", "book"]
    # Deserializing resolves the natural primary key with Permission(**data).natural_key(),
    # which reads content_type on an unsaved instance.
    (obj,) = serializers.deserialize("json", payload)
    assert obj.object.pk == perm.pk


def test_model_delete_cascades(data: dict[str, Any]) -> None:
    ada, bob, _ = data["authors"]
    with queries() as q:
        deleted = fresh(Author, pk=ada.pk).delete()
    assert deleted == (
        13,
        {
            "testapp.Author": 1,
            "testapp.Book": 2,
            "testapp.Book_tags": 3,
            "testapp.Chapter": 2,
            "testapp.Comment": 2,  # the generic relation of the books
            "testapp.Membership": 1,
            "testapp.Profile": 1,
            "testapp.Review": 1,
        },
    )
    assert len(q) > 0
    assert sorted(Book.objects.values_list("title", flat=True)) == ["B3", "B4"]
    assert Tag.objects.count() == 3
    assert Book.tags.through.objects.filter(book__title="B3").count() == 3
    assert list(Comment.objects.order_by("pk").values_list("text", flat=True)) == [
        "on bob",
        "orphan, no target",
    ]
    # SET_NULL
    assert Author.objects.get(pk=bob.pk).mentor_id is None
    assert Book.objects.get(title="B3").editor_id is None
    assert Restaurant.objects.get().owner_id is None


def test_model_delete_multi_table_child_and_generic_relation(data: dict[str, Any]) -> None:
    restaurant = fresh(Restaurant, name="Luigi's")
    assert restaurant.delete() == (2, {"testapp.Restaurant": 1, "testapp.Place": 1})
    assert list(Place.objects.values_list("name", flat=True)) == ["Park"]
    book = fresh(Book, title="B1")
    assert book.delete()[1] == {
        "testapp.Book": 1,
        "testapp.Book_tags": 2,
        "testapp.Chapter": 2,
        "testapp.Comment": 2,
        "testapp.Review": 1,
    }
    tag = fresh(Tag, name="poetry")
    assert tag.delete() == (3, {"testapp.Book_tags": 2, "testapp.Tag": 1})


def test_queryset_delete(data: dict[str, Any]) -> None:
    assert Book.objects.filter(author__name="Ada").delete() == (
        10,
        {
            "testapp.Book": 2,
            "testapp.Book_tags": 3,
            "testapp.Chapter": 2,
            "testapp.Comment": 2,
            "testapp.Review": 1,
        },
    )
    assert Publisher.objects.all().delete() == (2, {"testapp.Publisher": 2})
    assert set(Author.objects.values_list("publisher_id", flat=True)) == {None}
    assert Author.objects.all().delete()[1]["testapp.Author"] == 3
    assert not Book.objects.exists() and not Profile.objects.exists() and not Membership.objects.exists()


def test_refresh_from_db(data: dict[str, Any]) -> None:
    b1 = data["books"][0]
    bob = data["authors"][1]
    book = fresh(Book, pk=b1.pk)
    with queries() as q:
        book.refresh_from_db()
    assert len(q) == 1
    with pytest.raises(RelationNotLoaded):
        _ = book.author

    loaded = Book.objects.select_related("author").prefetch_related("tags").get(pk=b1.pk)
    Book.objects.filter(pk=b1.pk).update(author=bob)
    loaded.refresh_from_db()
    assert loaded.author_id == bob.pk
    with pytest.raises(RelationNotLoaded):  # the stale cached Ada was dropped, not served
        _ = loaded.author
    with pytest.raises(RelationNotLoaded):  # refresh_from_db() drops the prefetch cache
        list(loaded.tags.all())

    with queries() as q:
        loaded.refresh_from_db(from_queryset=Book.objects.select_related("author"))
    assert len(q) == 1
    with queries() as q:
        assert loaded.author.name == "Bob"
    assert len(q) == 0

    deferred = Book.objects.only("title").get(pk=b1.pk)
    with queries() as q:
        assert deferred.author_id == bob.pk  # a deferred field: Django refreshes it
    assert len(q) == 1
    with pytest.raises(RelationNotLoaded):
        _ = deferred.author

    comment = Comment.objects.get(text="on b1")
    prefetch([comment], "target")
    comment.refresh_from_db()
    with pytest.raises(RelationNotLoaded):
        _ = comment.target


# ------------------------------------------------------------- historical models


EXPECTED_MIGRATION_QUERIES = 37  # 18 fetches + 19 lazy loads (the MTI parent link needs none)


@pytest.mark.django_db(databases=["default", "other"])
def test_data_migration_ran_during_database_setup() -> None:
    """0002 ran while the test databases were created, read the right values through
    lazy loads on historical models, and removed every row it created."""
    for alias in ("default", "other"):
        applied = MigrationRecorder(connections[alias]).applied_migrations()
        assert ("testapp", "0002_historical_relations") in applied
        result = migration_0002.RESULTS.get(alias)
        assert result is not None, f"0002_historical_relations did not run on {alias!r} in this process"
        assert result["read"] == migration_0002.EXPECTED
        assert result["queries"] == EXPECTED_MIGRATION_QUERIES
        assert result["deleted"][1] == {
            "testapp.Author": 1,
            "testapp.Book": 2,
            "testapp.Book_tags": 3,
            "testapp.Chapter": 1,
            "testapp.Membership": 1,
            "testapp.Profile": 1,
            "testapp.Review": 1,
        }
        assert result["restaurant_deleted"] == (2, {"testapp.Restaurant": 1, "testapp.Place": 1})
    prefix = migration_0002.PREFIX
    for model, lookup in (
        (Publisher, "name"),
        (Author, "name"),
        (Tag, "name"),
        (Book, "title"),
        (Place, "name"),
        (Profile, "bio"),
    ):
        assert not model.objects.filter(**{f"{lookup}__startswith": prefix}).exists(), model


def test_historical_models_carry_strict_descriptors_and_load_lazily(data: dict[str, Any]) -> None:
    """The same RunPython function, called here on the historical models of 0002, under
    settings as strict as they get: historical models still load lazily."""
    historical = MigrationLoader(connection).project_state(("testapp", "0002_historical_relations")).apps
    historical_book = historical.get_model("testapp", "Book")
    historical_author = historical.get_model("testapp", "Author")
    assert historical_book.__module__ == "__fake__"
    assert isinstance(vars(historical_book)["author"], ForwardGuard)
    assert isinstance(vars(historical_book)["tags"], ToManyGuard)
    assert isinstance(vars(historical_author)["profile"], ReverseOneGuard)
    counts = {m: m.objects.count() for m in (Author, Book, Tag, Place, Comment, Chapter)}
    strictest = override_settings(RELATIONS={"MODE": "raise", "STRICT_FRAMEWORK": True})
    with strictest, mode("raise"), queries() as q:
        result = migration_0002.forwards(historical, connection.schema_editor())
    assert result["read"] == migration_0002.EXPECTED
    assert result["queries"] == EXPECTED_MIGRATION_QUERIES
    assert len(q) > EXPECTED_MIGRATION_QUERIES  # plus the inserts and deletes
    # It removed its own rows and nothing else.
    assert {m: m.objects.count() for m in counts} == counts
    # The current model, read by user code, is still strict.
    with pytest.raises(RelationNotLoaded):
        _ = fresh(Book, title="B1").author


# ------------------------------------------------------------- user code stays strict


def test_user_code_reading_unloaded_relations_raises(data: dict[str, Any]) -> None:
    book = fresh(Book, title="B1")
    ada = fresh(Author, name="Ada")
    comment = Comment.objects.get(text="on b1")
    with queries() as q:
        with pytest.raises(RelationNotLoaded) as exc:
            _ = book.author
        assert exc.value.relation == "author" and exc.value.pk == book.pk
        with pytest.raises(RelationNotLoaded):
            hasattr(book, "author")  # not an AttributeError: hasattr does not swallow it
        with pytest.raises(RelationNotLoaded):
            list(book.tags.all())
        with pytest.raises(RelationNotLoaded):
            _ = ada.profile
        with pytest.raises(RelationNotLoaded):
            ada.books.count()
        with pytest.raises(RelationNotLoaded):
            _ = comment.target
    assert len(q) == 0
    assert ada.books.filter(title="B1").count() == 1  # an explicit query is allowed


@pytest.mark.parametrize("method", ["count", "exists"])
def test_user_code_counting_unloaded_many_to_many_raises(data: dict[str, Any], method: str) -> None:
    """``.count()``/``.exists()`` on an unprefetched to-many manager is the guarded lazy
    load (issue part 3), for many-to-many managers as for reverse foreign keys."""
    book = fresh(Book, title="B1")
    ada = fresh(Author, name="Ada")
    with queries() as q:
        with pytest.raises(RelationNotLoaded):
            getattr(ada.books, method)()
        with pytest.raises(RelationNotLoaded) as exc:
            getattr(book.tags, method)()
    assert exc.value.relation == "tags"
    assert len(q) == 0


def test_template_reading_unloaded_fk_raises(data: dict[str, Any]) -> None:
    """Templates are user code, even though Django's template engine does the reading."""
    book = fresh(Book, title="B1")
    with queries() as q, pytest.raises(RelationNotLoaded) as exc:
        Template("{{ book.author.name }}").render(Context({"book": book}))
    assert exc.value.relation == "author"
    assert len(q) == 0


@pytest.mark.parametrize(
    "source",
    [
        "{% for tag in book.tags.all %}{{ tag.name }}{% endfor %}",
        "{% if book.tags.all %}tags{% endif %}",
        "{{ book.tags.count }}",
    ],
)
def test_template_evaluating_unloaded_many_to_many_raises(data: dict[str, Any], source: str) -> None:
    book = fresh(Book, title="B1")
    with queries() as q, pytest.raises(RelationNotLoaded) as exc:
        Template(source).render(Context({"book": book}))
    assert exc.value.relation == "tags"
    assert len(q) == 0


def test_template_file_renders_loaded_relations_without_queries(data: dict[str, Any]) -> None:
    book = fresh(Book, title="B1")
    with pytest.raises(RelationNotLoaded):
        render_to_string("testapp/book_detail.html", {"book": book})
    book.R("author").sync()
    R(book, "tags").sync()
    with queries() as q:
        html = render_to_string("testapp/book_detail.html", {"book": book})
    assert len(q) == 0
    assert '<p class="author">Ada</p>' in html
    assert sorted(re.findall(r"<li>(\w+)</li>", html)) == ["poetry", "sf"]


@pytest.mark.parametrize("view", ["plain", "login-required", "login-required-mixin", "template"])
def test_user_view_reading_unloaded_relation_raises(client: Client, data: dict[str, Any], view: str) -> None:
    """Views are user code (the README: "a view or template reading book.author is your
    N+1"), also when Django's auth decorators or mixins wrap them."""
    book = data["books"][0]
    with pytest.raises(RelationNotLoaded) as exc:
        client.get(f"/views/{view}/{book.pk}/")
    assert exc.value.relation == "author"
    assert exc.value.pk == book.pk


def test_user_view_rendering_loaded_relations_works(client: Client, data: dict[str, Any]) -> None:
    book = data["books"][0]
    response = client.get(f"/views/loaded-template/{book.pk}/")
    assert response.status_code == 200
    assert '<p class="author">Ada</p>' in response.content.decode()


# -------------------------------------------------------------- STRICT_FRAMEWORK


def test_strict_framework_admin_change_form_raises(client: Client, book_change_url: str) -> None:
    assert client.get(book_change_url).status_code == 200
    with override_settings(**STRICT_FRAMEWORK), pytest.raises(RelationNotLoaded) as exc:
        client.get(book_change_url)
    assert exc.value.relation == "tags"


def test_strict_framework_admin_changelist_raises(client: Client, data: dict[str, Any]) -> None:
    with override_settings(**STRICT_FRAMEWORK), pytest.raises(RelationNotLoaded) as exc:
        client.get(reverse("admin:testapp_book_changelist"))
    assert exc.value.relation == "author"


def test_strict_framework_model_to_dict_and_serializer_raise(data: dict[str, Any]) -> None:
    book = fresh(Book, title="B1")
    perm = fresh(Permission, codename="view_book")
    with override_settings(**STRICT_FRAMEWORK):
        with queries() as q:
            with pytest.raises(RelationNotLoaded) as exc:
                model_to_dict(book)
            assert exc.value.relation == "tags"
            with pytest.raises(RelationNotLoaded) as exc:
                serializers.serialize("json", [perm], use_natural_foreign_keys=True)
            assert exc.value.relation == "content_type"
        assert len(q) == 0
        # Loaded explicitly, the same framework paths work with no further query.
        prefetch([book], "tags")
        prefetch([perm], "content_type")
        with queries() as q:
            assert sorted(t.name for t in model_to_dict(book)["tags"]) == ["poetry", "sf"]
            payload = serializers.serialize("json", [perm], use_natural_foreign_keys=True)
        assert len(q) == 0
        assert json.loads(payload)[0]["fields"]["content_type"] == ["testapp", "book"]
        # A scoped lazy mode wins over STRICT_FRAMEWORK.
        with mode("lazy"):
            assert model_to_dict(fresh(Book, title="B2"))["tags"] == [data["tags"][1]]


def test_strict_framework_deletion_collector_still_works(data: dict[str, Any]) -> None:
    """The collector finds related rows with explicit queries, not by reading relations."""
    with override_settings(**STRICT_FRAMEWORK):
        assert fresh(Author, name="Ada").delete()[0] == 13
        assert fresh(Restaurant).delete() == (2, {"testapp.Restaurant": 1, "testapp.Place": 1})


# ------------------------------------------------------------ no migration churn


@pytest.mark.django_db(databases=["default", "other"])
def test_makemigrations_check_reports_no_changes() -> None:
    out, err = io.StringIO(), io.StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=err)  # SystemExit(1) on changes
    assert "No changes detected" in out.getvalue()
    assert err.getvalue() == ""


def test_relation_fields_keep_django_classes_with_strict_descriptors() -> None:
    """The descriptors are replaced, the fields are not: every relation field of every
    installed model deconstructs to Django's own class path."""
    assert unreplaced(global_apps) == []
    assert isinstance(vars(Book)["author"], StrictForwardManyToOneDescriptor)
    assert isinstance(vars(User)["groups"], StrictManyToManyDescriptor)
    for model in global_apps.get_models():
        for field in model._meta.get_fields():
            if field.is_relation and not isinstance(field, ForeignObjectRel) and field.concrete:
                path_ = field.deconstruct()[1]
                assert path_.startswith("django.db.models."), (model, field.name, path_)


# ------------------------------------------------------------------ contrib models


def test_user_groups_raises_then_loads(data: dict[str, Any]) -> None:
    readers = Group.objects.create(name="readers")
    writers = Group.objects.create(name="writers")
    user = User.objects.create_user("u1")
    user.groups.add(readers, writers)
    user = fresh(User, pk=user.pk)
    with pytest.raises(RelationNotLoaded) as exc:
        list(user.groups.all())
    assert exc.value.relation == "groups"
    assert user.groups.filter(name="readers").exists()  # explicit query: allowed
    with queries() as q:
        groups = user.R("groups").sync()
    assert len(q) == 1
    assert sorted(g.name for g in groups) == ["readers", "writers"]
    with queries() as q:
        assert sorted(g.name for g in user.groups.all()) == ["readers", "writers"]
    assert len(q) == 0

    users = list(User.objects.filter(username="u1"))
    with queries() as q:
        prefetch(users, "groups")
    assert len(q) == 1
    with queries() as q:
        assert len(users[0].groups.all()) == 2
    assert len(q) == 0


def test_permission_content_type_raises_then_loads(data: dict[str, Any]) -> None:
    perms = list(Permission.objects.filter(content_type__app_label="testapp", codename__endswith="_book"))
    assert len(perms) == 4
    with queries() as q, pytest.raises(RelationNotLoaded) as exc:
        _ = perms[0].content_type
    assert exc.value.relation == "content_type"
    assert len(q) == 0
    # Permission.__str__ is Django's code reading the relation: a framework access.
    with queries() as q:
        assert str(perms[0]).startswith("Testapp | book | ")
    assert len(q) == 1
    with queries() as q:
        prefetch(perms, "content_type")
    assert len(q) == 1
    book_type = ContentType.objects.get_for_model(Book)
    with queries() as q:
        assert {p.content_type for p in perms} == {book_type}
    assert len(q) == 0

    async def load() -> Any:
        perm = await Permission.objects.aget(codename="view_author")
        return perm, await perm.R("content_type")

    perm, content_type = run(load)
    assert content_type.model == "author"
    with queries() as q:
        assert perm.content_type is content_type
    assert len(q) == 0
