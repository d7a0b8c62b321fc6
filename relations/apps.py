"""The ``relations`` app: installs the strict descriptors, the peer tracking, ``Model.R``
and the display rule (``relations.policy.display``).

List it first in ``INSTALLED_APPS``: its config patches Django's descriptor
factories when it is created, before any model class exists, and patches the
contenttypes factories when it imports its (empty) models, before any other app.
"""

from __future__ import annotations

from types import ModuleType

from django.apps import AppConfig, apps
from django.db.models import Model
from django.db.models.signals import class_prepared

from . import peers
from .api import R
from .descriptors import install
from .drivers import observe
from .policy import display


def _install_display(sender: type[Model], **kwargs: object) -> None:
    display.install(sender)


class RelationsConfig(AppConfig):
    """App config of django-strict-relations."""

    name = "relations"
    verbose_name = "Strict relations"

    def __init__(self, app_name: str, app_module: ModuleType | None) -> None:
        super().__init__(app_name, app_module)
        install.install_core()
        class_prepared.connect(_install_display, dispatch_uid="relations.display")

    def import_models(self) -> None:
        super().import_models()
        self._install_generic()

    def ready(self) -> None:
        from . import checks  # noqa: F401 - registers the system checks

        self._install_generic()
        install.replace_all(apps)
        for model in apps.get_models(include_auto_created=True, include_swapped=True):
            display.install(model)  # the models created before this app
        peers.install()
        observe.install()
        if getattr(Model, "R", None) is not R:
            Model.R = R  # type: ignore[method-assign, assignment]

    def _install_generic(self) -> None:
        if apps.is_installed("django.contrib.contenttypes"):
            install.install_generic()
