"""The ``RELATIONS`` setting: defaults, validation, and a cache that follows changes.

```python
RELATIONS = {
    "MODE": "raise",              # "raise" (default), "warn", "lazy", "n_plus_one"
    "MODELS": {"auth.User": "lazy"},   # per-model mode, by app label and model name
    "ASYNC_DRIVER": "auto",       # "auto" (default), "thread"; "native" arrives with the native drivers
    "STRICT_FRAMEWORK": False,    # True: Django's own code paths (admin, forms, ...) obey MODE too
}
```
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

MODES = ("raise", "warn", "lazy", "n_plus_one")
ASYNC_DRIVERS = ("auto", "thread")
_KEYS = ("MODE", "MODELS", "ASYNC_DRIVER", "STRICT_FRAMEWORK")


@dataclass(frozen=True)
class Config:
    """The validated ``RELATIONS`` setting."""

    mode: str = "raise"
    models: dict[str, str] = field(default_factory=dict)  # label_lower -> mode
    async_driver: str = "auto"
    strict_framework: bool = False


def _check_mode(value: Any, where: str) -> str:
    if value not in MODES:
        raise ImproperlyConfigured(f"{where} is {value!r}; expected one of: {', '.join(MODES)}.")
    return str(value)


def parse(raw: Any) -> Config:
    """Validate a ``RELATIONS`` dict; raise ImproperlyConfigured with the reason."""
    if raw is None:
        return Config()
    if not isinstance(raw, dict):
        raise ImproperlyConfigured(f"RELATIONS must be a dict, got {type(raw).__name__}.")
    unknown = sorted(set(raw) - set(_KEYS))
    if unknown:
        raise ImproperlyConfigured(
            f"Unknown RELATIONS keys: {', '.join(unknown)}. Known keys: {', '.join(_KEYS)}."
        )
    mode = _check_mode(raw.get("MODE", "raise"), 'RELATIONS["MODE"]')
    models_raw = raw.get("MODELS", {})
    if not isinstance(models_raw, dict):
        raise ImproperlyConfigured('RELATIONS["MODELS"] must map "app_label.ModelName" to a mode.')
    models = {}
    for label, value in models_raw.items():
        if not isinstance(label, str) or label.count(".") != 1:
            raise ImproperlyConfigured(
                f'RELATIONS["MODELS"] key {label!r} is not an "app_label.ModelName" label.'
            )
        models[label.lower()] = _check_mode(value, f'RELATIONS["MODELS"][{label!r}]')
    driver = raw.get("ASYNC_DRIVER", "auto")
    if driver == "native":
        raise ImproperlyConfigured(
            'RELATIONS["ASYNC_DRIVER"] = "native" needs the native aiosqlite/psycopg '
            'drivers, which this version does not ship yet; use "auto" or "thread".'
        )
    if driver not in ASYNC_DRIVERS:
        raise ImproperlyConfigured(
            f'RELATIONS["ASYNC_DRIVER"] is {driver!r}; expected one of: {", ".join(ASYNC_DRIVERS)}.'
        )
    strict = raw.get("STRICT_FRAMEWORK", False)
    if not isinstance(strict, bool):
        raise ImproperlyConfigured('RELATIONS["STRICT_FRAMEWORK"] must be True or False.')
    return Config(mode=mode, models=models, async_driver=driver, strict_framework=strict)


_cache: list[Config] = []


def config() -> Config:
    """The current configuration (parsed once, re-read when the setting changes)."""
    if not _cache:
        _cache.append(parse(getattr(settings, "RELATIONS", None)))
    return _cache[0]


@receiver(setting_changed)
def _reset(*, setting: str, **kwargs: Any) -> None:
    if setting == "RELATIONS":
        _cache.clear()
