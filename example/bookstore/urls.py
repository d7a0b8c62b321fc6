from django.contrib import admin
from django.urls import path

from .shop import api, views

urlpatterns = [
    path("admin/", admin.site.urls),
    # The same page twice: with django-strict-relations, and with Django alone.
    path("books/strict/", views.books_strict, name="books-strict"),
    path("books/django/", views.books_django, name="books-django"),
    # The same books as JSON: a DRF view and a django-ninja endpoint, loaded by plan().
    path("api/drf/books/", api.BookList.as_view(), name="api-drf-books"),
    path("api/ninja/", api.ninja_api.urls),
]
