from django.contrib import admin
from django.urls import path

from .shop import views

urlpatterns = [
    path("admin/", admin.site.urls),
    # The same page twice: with django-strict-relations, and with Django alone.
    path("books/strict/", views.books_strict, name="books-strict"),
    path("books/django/", views.books_django, name="books-django"),
]
