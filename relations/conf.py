"""The ``RELATIONS`` setting: defaults, validation, and a cache that follows changes.

```python
RELATIONS = {
    "MODE": "raise",              # "raise" (default), "warn", "record", "lazy", "n_plus_one"
    "MODELS": {"auth.User": "lazy"},   # per-model mode, by app label and model name
    "ASYNC_DRIVER": "auto",       # "auto" (default), "native", "thread": how async code runs queries
    "NATIVE_POOL_SIZE": 4,        # native connections per database and event loop, at most
    "NATIVE_TIMEOUT": 10.0,       # seconds to wait for a native connection before an error
    "PEERS": True,                # R() on one instance loads the relation for its live peers too
    "STRICT_FRAMEWORK": False,    # True: Django's own code paths (admin, forms, ...) obey MODE too
    "PACKAGES": {"guardian": "lazy"},  # mode of the reads made by an installed package's code
    "ALLOW_RELATIONS": ["shop.Book.author", "legacy.*"],   # lazy loads accepted for these relations
    "ALLOW_LOCATIONS": ["shop/reports.py", "*/legacy/*.py:42"],  # ... and from these lines of code
    "REPORT_AT_EXIT": False,      # True: log the lazy-load report (``relations.report()``) at exit
    "LAZY_LOADER": "django",      # "relations": lazy to-one reads that run are served by R()'s loaders
    "SHELL_MODE": "lazy",         # the mode in manage.py shell, IPython/Jupyter, the REPL; None: MODE
}
```

Modes: ``raise`` blocks a hidden query with ``RelationNotLoaded``; ``warn`` lets it
run with a ``RelationLazyLoadWarning`` and a log record; ``record`` lets it run
silently; ``lazy`` is Django's own behaviour; ``n_plus_one`` raises only for
instances that came from a multi-row result.  ``raise``, ``warn`` and ``record``
add every such read to the lazy-load report (``relations.report()``, see
``relations.report``); ``lazy`` records nothing.

``PACKAGES`` maps the top-level import name of an installed package to the mode
its own reads follow, instead of the default rule for third-party code
(``relations.policy.packages``: a single-instance read loads and is recorded, a
read on one of many peers follows the mode, serialization frameworks always follow
it).

Allow-lists name lazy loads that are accepted: they load silently, in every mode,
and stay out of the report (inside a running event loop nothing loads, allowed or
not).  ``ALLOW_RELATIONS`` entries are ``"app_label.ModelName.relation"``, matched
case-insensitively, with shell wildcards (``"shop.Book.*"``, ``"auth.*.*"``).
``ALLOW_LOCATIONS`` entries are path globs of the code that reads the relation (the
first frame outside Django and this library, or a template), optionally with
``:line``; a relative glob matches the end of the path (``"shop/reports.py"``
matches ``/srv/app/shop/reports.py``).  ``relations.allow(...)`` does the same for
a block of code.

``LAZY_LOADER`` says what runs a to-one read that the mode lets through: ``"django"``
(Django's descriptor runs its own query) or ``"relations"`` (the library's loaders
load it on the sync driver, peers per ``PEERS``, and Django's descriptor then reads
the cached value: see ``relations.policy.serve``).

``SHELL_MODE`` is the mode of interactive sessions (``manage.py shell``, including
``shell -c``; IPython and Jupyter; the plain Python REPL: see
``relations.policy.interactive``), where exploring data is the point:
``Book.objects.first().author`` loads, as in Django.  ``"raise"`` makes the shell
strict; ``None`` makes it follow ``MODE`` and ``MODELS``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

MODES = ("raise", "warn", "lazy", "n_plus_one", "record")
ASYNC_DRIVERS = ("auto", "native", "thread")
LAZY_LOADERS = ("django", "relations")
_KEYS = (
    "MODE",
    "MODELS",
    "ASYNC_DRIVER",
    "NATIVE_POOL_SIZE",
    "NATIVE_TIMEOUT",
    "PEERS",
    "STRICT_FRAMEWORK",
    "PACKAGES",
    "ALLOW_RELATIONS",
    "ALLOW_LOCATIONS",
    "REPORT_AT_EXIT",
    "LAZY_LOADER",
    "SHELL_MODE",
)


@dataclass(frozen=True)
class Config:
    """The validated ``RELATIONS`` setting."""

    mode: str = "raise"
    models: dict[str, str] = field(default_factory=dict)  # label_lower -> mode
    async_driver: str = "auto"
    native_pool_size: int = 4
    native_timeout: float = 10.0
    peers: bool = True
    strict_framework: bool = False
    packages: dict[str, str] = field(default_factory=dict)  # top-level package -> mode
    allow_relations: tuple[str, ...] = ()  # "app_label.modelname.relation" globs, lower case
    allow_locations: tuple[tuple[str, int | None], ...] = ()  # (path glob, line or None)
    report_at_exit: bool = False
    lazy_loader: str = "django"
    shell_mode: str | None = "lazy"  # None: interactive sessions follow MODE and MODELS


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
    if driver not in ASYNC_DRIVERS:
        raise ImproperlyConfigured(
            f'RELATIONS["ASYNC_DRIVER"] is {driver!r}; expected one of: {", ".join(ASYNC_DRIVERS)}.'
        )
    pool_size = raw.get("NATIVE_POOL_SIZE", 4)
    if isinstance(pool_size, bool) or not isinstance(pool_size, int) or pool_size < 1:
        raise ImproperlyConfigured(
            f'RELATIONS["NATIVE_POOL_SIZE"] must be a positive integer, not {pool_size!r}.'
        )
    timeout = raw.get("NATIVE_TIMEOUT", 10.0)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ImproperlyConfigured(
            f'RELATIONS["NATIVE_TIMEOUT"] must be a number of seconds > 0, not {timeout!r}.'
        )
    peers = raw.get("PEERS", True)
    if not isinstance(peers, bool):
        raise ImproperlyConfigured('RELATIONS["PEERS"] must be True or False.')
    strict = raw.get("STRICT_FRAMEWORK", False)
    if not isinstance(strict, bool):
        raise ImproperlyConfigured('RELATIONS["STRICT_FRAMEWORK"] must be True or False.')
    packages = _packages(raw.get("PACKAGES", {}))
    report_at_exit = raw.get("REPORT_AT_EXIT", False)
    if not isinstance(report_at_exit, bool):
        raise ImproperlyConfigured('RELATIONS["REPORT_AT_EXIT"] must be True or False.')
    lazy_loader = raw.get("LAZY_LOADER", Config.lazy_loader)
    if lazy_loader not in LAZY_LOADERS:
        raise ImproperlyConfigured(
            f'RELATIONS["LAZY_LOADER"] is {lazy_loader!r}; expected one of: {", ".join(LAZY_LOADERS)}.'
        )
    shell_mode = raw.get("SHELL_MODE", "lazy")
    if shell_mode is not None and shell_mode not in MODES:
        raise ImproperlyConfigured(
            f'RELATIONS["SHELL_MODE"] is {shell_mode!r}; expected one of: {", ".join(MODES)}, or None.'
        )
    return Config(
        mode=mode,
        models=models,
        async_driver=driver,
        native_pool_size=pool_size,
        native_timeout=float(timeout),
        peers=peers,
        strict_framework=strict,
        packages=packages,
        allow_relations=tuple(
            parse_relation_pattern(p, 'RELATIONS["ALLOW_RELATIONS"]')
            for p in _strings(raw, "ALLOW_RELATIONS")
        ),
        allow_locations=tuple(
            parse_location_pattern(p, 'RELATIONS["ALLOW_LOCATIONS"]')
            for p in _strings(raw, "ALLOW_LOCATIONS")
        ),
        report_at_exit=report_at_exit,
        lazy_loader=lazy_loader,
        shell_mode=shell_mode,
    )


def _packages(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ImproperlyConfigured(
            'RELATIONS["PACKAGES"] must map a top-level package name ("guardian") to a mode.'
        )
    packages = {}
    for name, mode in value.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ImproperlyConfigured(
                f'RELATIONS["PACKAGES"] key {name!r} is not a top-level package name '
                '(the name you import, such as "guardian" or "rest_framework").'
            )
        packages[name] = _check_mode(mode, f'RELATIONS["PACKAGES"][{name!r}]')
    return packages


def _strings(raw: dict[str, Any], key: str) -> list[str]:
    value = raw.get(key, ())
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise ImproperlyConfigured(f'RELATIONS["{key}"] must be a list of strings.')
    for item in value:
        if not isinstance(item, str) or not item:
            raise ImproperlyConfigured(f'RELATIONS["{key}"] must be a list of strings, not {item!r}.')
    return list(value)


def parse_relation_pattern(pattern: str, where: str) -> str:
    """Validate an ``"app_label.ModelName.relation"`` glob; return it in lower case."""
    parts = pattern.split(".")
    if len(parts) != 3 or not all(parts):
        raise ImproperlyConfigured(
            f'{where} entry {pattern!r} is not an "app_label.ModelName.relation" pattern '
            '(wildcards allowed: "shop.Book.*").'
        )
    return pattern.lower()


def parse_location_pattern(pattern: str, where: str) -> tuple[str, int | None]:
    """Split a ``"path/glob.py[:line]"`` pattern into (glob, line or None)."""
    glob, sep, line = pattern.rpartition(":")
    if sep and line.isdigit() and glob:
        return glob.replace("\\", "/"), int(line)
    if not pattern.strip():
        raise ImproperlyConfigured(f"{where} entry {pattern!r} is empty.")
    return pattern.replace("\\", "/"), None


_cache: list[tuple[Any, Config]] = []  # (the raw setting it was parsed from, config)


def config() -> Config:
    """The current configuration (parsed once per value of the setting)."""
    raw = getattr(settings, "RELATIONS", None)
    # Compared by identity, so a parse that raced with a settings change in another
    # thread is never served for the new value.
    cached = _cache[0] if _cache else None
    if cached is None or cached[0] is not raw:
        cached = (raw, parse(raw))
        _cache[:] = [cached]
    return cached[1]


@receiver(setting_changed)
def _reset(*, setting: str, **kwargs: Any) -> None:
    if setting == "RELATIONS":
        _cache.clear()
