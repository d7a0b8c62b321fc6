"""``--settings`` module for a third-party app's test suite, with or without this library.

``tests/thirdparty_suite/run.py`` runs ``python -m django test`` with this module.  It
takes every setting of the app's own test settings (``THIRDPARTY_SETTINGS``), and,
unless ``THIRDPARTY_MODE`` is ``none`` (the reference run), patches Django's descriptor
factories before any model class exists, puts ``"relations"`` first in
``INSTALLED_APPS`` and sets ``RELATIONS = {"MODE": <mode>}``.  ``THIRDPARTY_EXTEND``
(``"guardian=/path/to/sdist/guardian"``) adds the sdist's copy of a package to the
installed package's ``__path__``: the app's test code (``guardian.testapp``) is
imported from the sdist, so it is the test code it is, not installed package code.
"""

import importlib
import os

MODE = os.environ.get("THIRDPARTY_MODE", "lazy")

_extend = os.environ.get("THIRDPARTY_EXTEND", "")
if _extend:
    _name, _, _path = _extend.partition("=")
    importlib.import_module(_name).__path__.append(_path)

if MODE != "none":
    from relations.descriptors.install import install_core

    install_core()  # before the app's settings import anything that defines models

_app = importlib.import_module(os.environ["THIRDPARTY_SETTINGS"])
globals().update({k: v for k, v in vars(_app).items() if k.isupper()})

TEST_RUNNER = "thirdparty_hook.Runner"

if MODE != "none":
    # Same type as the app's (tests do ``settings.INSTALLED_APPS + ("crispy_forms",)``).
    _apps = globals()["INSTALLED_APPS"]
    INSTALLED_APPS = type(_apps)(["relations", *(a for a in _apps if a != "relations")])
    RELATIONS = {"MODE": MODE}
