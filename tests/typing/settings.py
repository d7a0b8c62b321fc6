"""Settings mypy's Django plugin loads for the typing tests: the test app plus ``typingapp``."""

from tests.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "tests.typing.typingapp"]  # noqa: F405
