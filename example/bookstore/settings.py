"""Settings of the bookstore example: embedded SQLite, django-strict-relations first.

Environment variables (all optional; the HTTP benchmark and the tests set them):

- ``BOOKSTORE_DB``: the SQLite file (default ``example/bookstore.sqlite3``).
- ``BOOKSTORE_PG_NAME``: use this PostgreSQL database instead (``PGHOST``,
  ``PGPORT``, ``PGUSER``, default 127.0.0.1:5432, user postgres), through Django's
  psycopg connection pool (``BOOKSTORE_PG_POOL_SIZE`` connections at most, default 8).
- ``BOOKSTORE_ASYNC_DRIVER``: ``RELATIONS["ASYNC_DRIVER"]`` (default: the library's, "auto").
- ``BOOKSTORE_DEBUG``: ``0`` turns ``DEBUG`` off (a production-like server).
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent  # example/

SECRET_KEY = "example-only-not-secret"
DEBUG = os.environ.get("BOOKSTORE_DEBUG", "1") != "0"
ALLOWED_HOSTS = ["localhost", "127.0.0.1"]

INSTALLED_APPS = [
    "relations",  # first: it installs the strict relation descriptors on every model
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "bookstore.shop",
]

RELATIONS = {
    "MODE": "raise",  # the default: reading an unloaded relation raises RelationNotLoaded
}
if os.environ.get("BOOKSTORE_ASYNC_DRIVER"):
    RELATIONS["ASYNC_DRIVER"] = os.environ["BOOKSTORE_ASYNC_DRIVER"]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "bookstore.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Embedded SQLite next to manage.py (*.sqlite3 is git-ignored).  Override with
# BOOKSTORE_DB=/some/path.sqlite3.  `manage.py demo` deletes and recreates it.
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("BOOKSTORE_DB", str(BASE_DIR / "bookstore.sqlite3")),
    }
}
if os.environ.get("BOOKSTORE_PG_NAME"):
    DATABASES["default"] = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ["BOOKSTORE_PG_NAME"],
        "USER": os.environ.get("PGUSER", "postgres"),
        "HOST": os.environ.get("PGHOST", "127.0.0.1"),
        "PORT": os.environ.get("PGPORT", "5432"),
        # Under ASGI every request runs its ORM work on a thread of its own, hence a
        # connection of its own: a pool (Django >= 5.1) instead of a connect per request.
        "OPTIONS": {"pool": {"min_size": 1, "max_size": int(os.environ.get("BOOKSTORE_PG_POOL_SIZE", "8"))}},
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"

if not DEBUG:
    # Django logs server errors to the console only under DEBUG; a benchmark server
    # (BOOKSTORE_DEBUG=0) must still show why a request failed.
    LOGGING = {
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {"console": {"class": "logging.StreamHandler"}},
        "loggers": {"django.request": {"handlers": ["console"], "level": "ERROR"}},
    }
