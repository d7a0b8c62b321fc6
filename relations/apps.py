"""The ``relations`` app: installs the strict descriptors, the peer tracking and ``Model.R``.

List it first in ``INSTALLED_APPS``: its config patches Django's descriptor
factories when it is created, before any model class exists, and patches the
contenttypes factories when it imports its (empty) models, before any other app.
"""

from __future__ import annotations

from types import ModuleType

from django.apps import AppConfig, apps
from django.db.models import Model

from . import peers
from .api import R
from .descriptors import install
from .drivers import observe


class RelationsConfig(AppConfig):
    """App config of django-strict-relations."""

    name = "relations"
    verbose_name = "Strict relations"

    def __init__(self, app_name: str, app_module: ModuleType | None) -> None:
        super().__init__(app_name, app_module)
        install.install_core()

    def import_models(self) -> None:
        super().import_models()
        self._install_generic()

    def ready(self) -> None:
        from . import checks  # noqa: F401 - registers the system checks

        self._install_generic()
        install.replace_all(apps)
        peers.install()
        observe.install()
        if getattr(Model, "R", None) is not R:
            Model.R = R  # type: ignore[method-assign, assignment]

    def _install_generic(self) -> None:
        if apps.is_installed("django.contrib.contenttypes"):
            install.install_generic()
