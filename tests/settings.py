"""Settings for the test suite: SQLite files by default, PostgreSQL with RELATIONS_TEST_DB=postgres."""

import os
import tempfile

SECRET_KEY = "tests-only"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = [
    "relations",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "tests.testapp",
    "tests.fieldtypes",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "tests.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

_backend = os.environ.get("RELATIONS_TEST_DB", "sqlite")
_tmp = os.environ.get("RELATIONS_TEST_TMP", tempfile.gettempdir())
_pg_name = os.environ.get("RELATIONS_TEST_PG_NAME", "relations")  # distinct per parallel run
if _backend == "postgres":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": _pg_name,
            "USER": os.environ.get("PGUSER", "postgres"),
            "HOST": os.environ.get("PGHOST", "127.0.0.1"),
            "PORT": os.environ.get("PGPORT", "5432"),
        },
        "other": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": f"{_pg_name}_other",
            "USER": os.environ.get("PGUSER", "postgres"),
            "HOST": os.environ.get("PGHOST", "127.0.0.1"),
            "PORT": os.environ.get("PGPORT", "5432"),
        },
    }
elif _backend == "sqlite":
    # Real files, not in-memory databases: the tests exercise real SQLite I/O.
    _pid = os.getpid()
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.path.join(_tmp, f"relations-{_pid}.sqlite3"),
            "TEST": {"NAME": os.path.join(_tmp, f"relations-test-{_pid}.sqlite3")},
        },
        "other": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.path.join(_tmp, f"relations-other-{_pid}.sqlite3"),
            "TEST": {"NAME": os.path.join(_tmp, f"relations-other-test-{_pid}.sqlite3")},
        },
    }
else:
    raise RuntimeError(f"RELATIONS_TEST_DB must be sqlite or postgres, not {_backend!r}")
