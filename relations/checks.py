"""Django system checks of django-strict-relations (``manage.py check``).

=================  ========  =====================================================
id                 level     what
=================  ========  =====================================================
relations.W001     warning   ``relations`` is not the first app in INSTALLED_APPS
relations.W002     warning   a relation descriptor is still Django's own (not strict)
relations.W003     warning   RELATIONS["PACKAGES"] names a package that cannot be imported
relations.E001     error     the RELATIONS setting is malformed
relations.E002     error     an unknown mode in RELATIONS["MODE"], ["MODELS"] or ["PACKAGES"]
relations.E003     error     an unknown model label in RELATIONS["MODELS"]
relations.E004     error     an ALLOW_RELATIONS entry that names no model or relation
=================  ========  =====================================================

The app registers them in ``ready()``.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib.util
from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig, apps
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Model

from .conf import MODES, parse
from .kinds import kind_of

MODES_TEXT = ", ".join(f'"{m}"' for m in MODES)


def _did_you_mean(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f' Did you mean "{close[0]}"?' if close else ""


@checks.register(checks.Tags.compatibility)
def check_app_order(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """relations.W001: the app must come first to patch descriptors before models exist.

    Silent when the registry it inspects has no "relations" app at all: then the
    checks run for a project (or an ``override_settings(INSTALLED_APPS=...)`` block)
    that does not use the library, and the order is none of its business.
    """
    configs = list(apps.get_app_configs())
    position = next((i for i, c in enumerate(configs) if c.name == "relations"), None)
    if position is None or position == 0:
        return []
    return [
        checks.Warning(
            f'"relations" is at position {position + 1} in INSTALLED_APPS, after "{configs[0].name}".',
            hint=(
                'Move "relations" to the top of INSTALLED_APPS: it installs the strict relation '
                "descriptors before any model class is created. Later it can only swap them "
                "afterwards, which misses descriptors that other apps copied or subclassed."
            ),
            id="relations.W001",
        )
    ]


@checks.register(checks.Tags.models)
def check_descriptors(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """relations.W002: relations whose descriptor is not strict (reads load silently)."""
    from .descriptors.install import unreplaced

    wanted = {c.label for c in app_configs} if app_configs is not None else None
    messages: list[checks.CheckMessage] = []
    for label in unreplaced(apps):
        app_label, model_name, name = label.split(".", 2)
        if wanted is not None and app_label not in wanted:
            continue
        model = apps.get_model(app_label, model_name)
        messages.append(
            checks.Warning(
                f"The relation {label} still has Django's own descriptor "
                f"({type(vars(model)[name]).__name__}): reading it when it is not loaded "
                "runs a query whatever RELATIONS says.",
                hint=(
                    "Something replaced the descriptor after the relations app was ready "
                    "(a model created at run time, or code that assigns the attribute). Create "
                    'models before AppConfig.ready() ends and list "relations" first in INSTALLED_APPS.'
                ),
                obj=model,
                id="relations.W002",
            )
        )
    return messages


def _models_by_label() -> dict[str, type[Model]]:
    return {m._meta.label_lower: m for m in apps.get_models(include_auto_created=True)}


def _relation_names(model: type[Model]) -> list[str]:
    names: list[str] = []
    for cls in model.__mro__:
        for name, attr in vars(cls).items():
            if name not in names and kind_of(attr) is not None:
                names.append(name)
    return names


@checks.register()
def check_settings(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """relations.E001-E004: the RELATIONS setting."""
    raw = getattr(settings, "RELATIONS", None)
    if raw is None:
        return []
    if not isinstance(raw, dict):
        return [_malformed(f"RELATIONS must be a dict, got {type(raw).__name__}.")]
    messages: list[checks.CheckMessage] = []
    models = _models_by_label()
    labels = sorted({m._meta.label for m in models.values()})

    def bad_mode(value: Any, where: str) -> None:
        if value not in MODES:
            hint = _did_you_mean(str(value).lower(), MODES) if isinstance(value, str) else ""
            messages.append(
                checks.Error(
                    f"{where} is {value!r}, which is not a mode.",
                    hint=f"Use one of {MODES_TEXT}.{hint}",
                    id="relations.E002",
                )
            )

    if "MODE" in raw:
        bad_mode(raw["MODE"], 'RELATIONS["MODE"]')
    per_model = raw.get("MODELS", {})
    if isinstance(per_model, dict):
        for label, value in per_model.items():
            bad_mode(value, f'RELATIONS["MODELS"][{label!r}]')
            if isinstance(label, str) and label.count(".") == 1 and label.lower() not in models:
                messages.append(
                    checks.Error(
                        f'RELATIONS["MODELS"] names {label!r}, which is not an installed model.',
                        hint='Use an "app_label.ModelName" label of an installed model.'
                        + _did_you_mean(label, labels),
                        id="relations.E003",
                    )
                )
    per_package = raw.get("PACKAGES", {})
    if isinstance(per_package, dict):
        for name, value in per_package.items():
            bad_mode(value, f'RELATIONS["PACKAGES"][{name!r}]')
            if isinstance(name, str) and name.isidentifier() and importlib.util.find_spec(name) is None:
                messages.append(
                    checks.Warning(
                        f'RELATIONS["PACKAGES"] names {name!r}, which is not an importable package.',
                        hint='Use the top-level name you import ("guardian" for django-guardian, '
                        '"rest_framework" for djangorestframework).',
                        id="relations.W003",
                    )
                )
    allow = raw.get("ALLOW_RELATIONS", ())
    if isinstance(allow, (list, tuple)):
        for pattern in allow:
            if isinstance(pattern, str) and pattern.count(".") == 2:
                messages.extend(_check_allowed_relation(pattern, models, labels))
    try:
        parse(raw)
    except ImproperlyConfigured as exc:
        if not any(m.id == "relations.E002" for m in messages) or "expected one of" not in str(exc):
            messages.insert(0, _malformed(str(exc)))
    return messages


def _malformed(text: str) -> checks.CheckMessage:
    return checks.Error(
        text,
        hint="See the RELATIONS keys documented in relations.conf (and the README).",
        id="relations.E001",
    )


def _check_allowed_relation(
    pattern: str, models: dict[str, type[Model]], labels: list[str]
) -> list[checks.CheckMessage]:
    model_glob, name_glob = pattern.lower().rsplit(".", 1)
    matched = [m for label, m in models.items() if fnmatch.fnmatchcase(label, model_glob)]
    if not matched:
        return [
            checks.Error(
                f'RELATIONS["ALLOW_RELATIONS"] entry {pattern!r} matches no installed model.',
                hint='Use "app_label.ModelName.relation".' + _did_you_mean(pattern.rsplit(".", 1)[0], labels),
                id="relations.E004",
            )
        ]
    names = {n for m in matched for n in _relation_names(m)}
    if any(fnmatch.fnmatchcase(n.lower(), name_glob) for n in names):
        return []
    return [
        checks.Error(
            f'RELATIONS["ALLOW_RELATIONS"] entry {pattern!r} matches no relation of '
            f"{', '.join(sorted(m._meta.label for m in matched))}.",
            hint=f"Relations: {', '.join(sorted(names)) or '(none)'}."
            + _did_you_mean(pattern.rsplit(".", 1)[1], sorted(names)),
            id="relations.E004",
        )
    ]
