"""Admin for the test bookstore, used by tests/test_framework_paths.py.

``admin.site`` registers every model the way a project typically does, with no
``select_related``: the admin itself reads the foreign key columns of the changelist,
the read-only fields and the inlines of unloaded instances, which the default
settings must allow (Django's own code paths load lazily).

``methods_site`` adds ``list_display`` methods written on the ModelAdmin: one reads
a relation that its queryset did not load, the other prefetches what it reads.  The
admin calls both, so under the documented rule (a Django framework package such as
``django.contrib.admin`` is on the stack) both are framework accesses: the first loads
lazily with the default settings and raises with ``STRICT_FRAMEWORK``; the second
works either way.
"""

from django.contrib import admin
from django.contrib.contenttypes.admin import GenericTabularInline

from .models import (
    Author,
    Book,
    Chapter,
    Club,
    Comment,
    Membership,
    Place,
    Profile,
    Publisher,
    Restaurant,
    Review,
    Tag,
)


class ChapterInline(admin.TabularInline):
    model = Chapter
    extra = 0


class ReviewInline(admin.TabularInline):
    model = Review
    extra = 0
    raw_id_fields = ("created_by",)


class CommentInline(GenericTabularInline):
    model = Comment
    extra = 0


@admin.register(Book)
class BookAdmin(admin.ModelAdmin):
    list_display = ("title", "author", "editor")
    list_select_related = ()  # no select_related: the admin reads the FK columns itself
    readonly_fields = ("editor",)
    filter_horizontal = ("tags",)
    inlines = (ChapterInline, ReviewInline, CommentInline)


class ProfileInline(admin.StackedInline):
    model = Profile


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0


@admin.register(Author)
class AuthorAdmin(admin.ModelAdmin):
    list_display = ("name", "publisher", "mentor")
    list_select_related = ()
    inlines = (ProfileInline, MembershipInline)


@admin.register(Comment)
class CommentAdmin(admin.ModelAdmin):
    list_display = ("text", "content_type", "target")
    list_select_related = ()
    readonly_fields = ("target",)


for _model in (Publisher, Tag, Profile, Chapter, Club, Membership, Place, Restaurant, Review):
    admin.site.register(_model)


methods_site = admin.AdminSite(name="methods_admin")


@admin.register(Book, site=methods_site)
class BookWithMethodAdmin(admin.ModelAdmin):
    """A ``list_display`` method that reads a relation its queryset did not load (an N+1)."""

    list_display = ("title", "author", "publisher_name")
    list_select_related = ()

    @admin.display(description="Publisher")
    def publisher_name(self, obj: Book) -> str:
        publisher = obj.author.publisher  # not loaded: the admin's N+1
        return publisher.name if publisher else "-"


@admin.register(Author, site=methods_site)
class AuthorWithMethodAdmin(admin.ModelAdmin):
    """A ``list_display`` method that reads only what ``get_queryset`` prefetched."""

    list_display = ("name", "book_titles")

    def get_queryset(self, request):  # type: ignore[no-untyped-def]
        return super().get_queryset(request).prefetch_related("books")

    @admin.display(description="Books")
    def book_titles(self, obj: Author) -> str:
        return ", ".join(sorted(book.title for book in obj.books.all()))
