"""The admin works with strict relations: Django's own code paths are not blocked."""

from django.contrib import admin
from django.contrib.contenttypes.admin import GenericTabularInline

from .models import Author, Book, Comment, Profile, Publisher, Tag


class CommentInline(GenericTabularInline):
    model = Comment
    extra = 0


class ProfileInline(admin.StackedInline):
    model = Profile
    extra = 0


@admin.register(Publisher)
class PublisherAdmin(admin.ModelAdmin):
    list_display = ["name"]
    search_fields = ["name"]


@admin.register(Author)
class AuthorAdmin(admin.ModelAdmin):
    list_display = ["name", "publisher"]
    list_select_related = ["publisher"]
    list_filter = ["publisher"]
    search_fields = ["name"]
    inlines = [ProfileInline, CommentInline]


@admin.register(Book)
class BookAdmin(admin.ModelAdmin):
    list_display = ["title", "author"]
    list_select_related = ["author"]
    search_fields = ["title"]
    filter_horizontal = ["tags"]
    raw_id_fields = ["author"]
    inlines = [CommentInline]


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    search_fields = ["name"]


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ["__str__", "author"]
    list_select_related = ["author"]


@admin.register(Comment)
class CommentAdmin(admin.ModelAdmin):
    list_display = ["text", "content_type", "object_id"]
    list_select_related = ["content_type"]
