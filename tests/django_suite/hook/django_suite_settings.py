"""``--settings`` module for Django's own ``runtests.py``, with or without this library.

``tests/django_suite/run.py`` puts this directory on ``PYTHONPATH`` and runs
``runtests.py --settings=django_suite_settings``.  Django imports this module at the
first settings access, which happens before any model class exists, so:

1. it starts from Django's own ``test_sqlite`` settings (or PostgreSQL databases);
2. unless ``DJANGO_SUITE_MODE`` is ``none`` (the reference run), it patches Django's
   descriptor factories (``descriptors.install.install_core``), sets ``RELATIONS``,
   and puts the ``relations`` app first in runtests' ``ALWAYS_INSTALLED_APPS``
   (runtests replaces ``INSTALLED_APPS`` with that very list object), so the app's
   ``import_models()`` patches contenttypes before any other app and its ``ready()``
   swaps what is left;
3. it selects ``django_suite_hook.SuiteRunner``, which records every test's outcome,
   checks that the strict descriptors really are on Django's test models, and counts
   how many relation reads went through the library's policy.

Environment (set by run.py): ``DJANGO_SUITE_MODE`` (none, lazy, raise, warn,
n_plus_one), ``DJANGO_SUITE_DB`` (sqlite, postgres), ``DJANGO_SUITE_PG_PREFIX``,
``DJANGO_SUITE_STRICT_FRAMEWORK`` (1 or empty), ``DJANGO_SUITE_LAZY_LOADER`` (django,
relations), ``DJANGO_SUITE_LAZY_DRIVER`` (sync, thread: which driver serves the reads
with "relations"), ``DJANGO_SUITE_OUT`` (result dir).
"""

import os
import sys

from test_sqlite import *  # noqa: F403  (Django's tests/test_sqlite.py)

MODE = os.environ.get("DJANGO_SUITE_MODE", "lazy")
DB = os.environ.get("DJANGO_SUITE_DB", "sqlite")

if DB == "postgres":
    _prefix = os.environ.get("DJANGO_SUITE_PG_PREFIX", "django_suite")
    _common = {
        "ENGINE": "django.db.backends.postgresql",
        "USER": os.environ.get("PGUSER", "postgres"),
        "PASSWORD": os.environ.get("PGPASSWORD", ""),
        "HOST": os.environ.get("PGHOST", "127.0.0.1"),
        "PORT": os.environ.get("PGPORT", "5432"),
    }
    # The test runner creates (and, with --noinput, recreates) exactly these
    # databases; parallel workers clone them as <name>_1, <name>_2, ...
    DATABASES = {
        "default": {**_common, "NAME": "postgres", "TEST": {"NAME": f"{_prefix}_default"}},
        "other": {**_common, "NAME": "postgres", "TEST": {"NAME": f"{_prefix}_other"}},
    }
elif DB != "sqlite":
    raise RuntimeError(f"DJANGO_SUITE_DB must be sqlite or postgres, not {DB!r}")

TEST_RUNNER = "django_suite_hook.SuiteRunner"

import django_suite_hook  # noqa: E402

django_suite_hook.install_isolation()

if MODE != "none":
    from relations.descriptors.install import install_core

    install_core()  # before any model class exists
    RELATIONS = {
        "MODE": MODE,
        "STRICT_FRAMEWORK": os.environ.get("DJANGO_SUITE_STRICT_FRAMEWORK", "") == "1",
        "LAZY_LOADER": os.environ.get("DJANGO_SUITE_LAZY_LOADER", "django"),
        # Peers off: a served read then runs exactly the queries Django's read runs.
        "PEERS": False,
    }
    _always = getattr(sys.modules["__main__"], "ALWAYS_INSTALLED_APPS", None)
    if _always is None:
        raise RuntimeError("django_suite_settings is meant for Django's tests/runtests.py")
    if "relations" not in _always:
        _always.insert(0, "relations")

    django_suite_hook.install_probes()
    if os.environ.get("DJANGO_SUITE_LAZY_DRIVER", "sync") != "sync":
        from relations.policy import serve

        serve.use_driver(os.environ["DJANGO_SUITE_LAZY_DRIVER"])
