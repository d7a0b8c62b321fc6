"""Typing support for django-strict-relations (mypy plugin and pyright stubs arrive with the typing issue)."""
