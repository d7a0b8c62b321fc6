#!/usr/bin/env python
"""Cold mypy time with django-stubs' plugin alone vs with django-stubs + ``relations.stubs.mypy_plugin``.

    .venv/dj61/bin/python benchmarks/typing_mypy.py                 # 3 rounds per configuration
    .venv/dj61/bin/python benchmarks/typing_mypy.py --rounds 5 --loaded
    .venv/dj61/bin/python benchmarks/typing_mypy.py --keep /tmp/typing-bench   # keep the project

Generates a project in a temporary directory: 5 apps of 20 models each (100
models; every model but the first has a foreign key to an earlier one, some a
nullable foreign key, a many-to-many or a nullable one-to-one, across apps too) and
40 modules of 25 functions (1,000), each loading relations with ``await obj.R(...)``,
the functional ``R(obj, ...)``, ``.sync()``, two-hop paths and reverse accessors,
and reading ``select_related`` rows.  The code is valid: with the plugin mypy
reports no error on it.  Without it, ``obj.R`` is unknown to mypy (the plugin is
what gives models ``R``) and the run reports those errors; each row shows its count.

Every run is cold: a fresh ``--cache-dir`` and a new process (which includes mypy's
start-up and django-stubs' ``django.setup()``).  The configurations alternate round
by round so that a slower moment of the machine hits both.  The table shows the
median and the min-max of the wall times and the ratio of medians to the baseline;
issue 16 wants the plugin to add at most 15% (issue 4: 20%).

That baseline is not the same work: without the plugin every R() result is Any, so
mypy checks nothing downstream of it.  ``--split`` adds two rows that separate the
plugin's own cost from the cost of checking typed values: the plugin with its R()
refinements computed and then dropped (R() stays ``RelationLoad[Any]``), and
django-stubs alone on the same functions with each R() result put in a variable
annotated by hand with the type the plugin gives it.  ``--loaded`` adds a row with the
opt-in loaded-relation tracking (``enable_error_code = relation-not-loaded``).
``--plugin MODULE`` measures another plugin module (one with ``plugin()``).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
APPS = 5
MODELS_PER_APP = 20
MODULES = 40
FUNCTIONS_PER_MODULE = 25
TARGET = 1.15


@dataclass
class Model:
    """One generated model and what R() gives for each of its relation names."""

    index: int
    fields: list[str] = field(default_factory=list)
    single: dict[str, int] = field(default_factory=dict)  # name -> target model
    optional: dict[str, int] = field(default_factory=dict)
    many: dict[str, int] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"M{self.index}"

    @property
    def app(self) -> str:
        return f"app{self.index // MODELS_PER_APP}"


def build_models(rng: random.Random) -> list[Model]:
    models = [Model(i) for i in range(APPS * MODELS_PER_APP)]
    for model in models[1:]:
        i = model.index

        def ref(target: int) -> str:
            return f'"{models[target].app}.{models[target].name}"'

        parent = rng.randrange(i)
        model.fields.append(
            f"parent = models.ForeignKey({ref(parent)}, models.CASCADE, related_name='children{i}')"
        )
        model.single["parent"] = parent
        models[parent].many[f"children{i}"] = i
        if i % 3 == 0:
            helper = rng.randrange(i)
            model.fields.append(
                f"helper = models.ForeignKey({ref(helper)}, models.SET_NULL, null=True, "
                f"related_name='helped{i}')"
            )
            model.optional["helper"] = helper
            models[helper].many[f"helped{i}"] = i
        if i % 5 == 0:
            tag = rng.randrange(len(models))
            model.fields.append(f"tags = models.ManyToManyField({ref(tag)}, related_name='tagged{i}')")
            model.many["tags"] = tag
            models[tag].many[f"tagged{i}"] = i
        if i % 7 == 0:
            twin = rng.randrange(i)
            model.fields.append(
                f"twin = models.OneToOneField({ref(twin)}, models.CASCADE, null=True, related_name='twin{i}')"
            )
            model.optional["twin"] = twin
            models[twin].optional[f"twin{i}"] = i
    return models


def write_project(root: Path, models: list[Model], rng: random.Random) -> None:
    (root / "benchsettings.py").write_text(
        "SECRET_KEY = 'typing-bench'\n"
        "DEFAULT_AUTO_FIELD = 'django.db.models.BigAutoField'\n"
        "INSTALLED_APPS = ['relations', 'django.contrib.contenttypes', 'django.contrib.auth', "
        + ", ".join(f"'app{a}'" for a in range(APPS))
        + "]\n"
        "DATABASES = {'default': {'ENGINE': 'django.db.backends.sqlite3', 'NAME': ':memory:'}}\n"
    )
    for a in range(APPS):
        app = root / f"app{a}"
        app.mkdir()
        (app / "__init__.py").write_text("")
        lines = ["from django.db import models\n"]
        for model in models[a * MODELS_PER_APP : (a + 1) * MODELS_PER_APP]:
            lines.append(
                f"\n\nclass {model.name}(models.Model):\n    name = models.CharField(max_length=50)\n"
            )
            lines.extend(f"    {line}\n" for line in model.fields)
        (app / "models.py").write_text("".join(lines))
    state = rng.getstate()  # both packages get the same functions
    for package, typed in (("usage", False), ("usage_typed", True)):
        # "usage" is the code as users write it with the plugin; "usage_typed" is the same
        # code with each R() result annotated by hand, checked without the plugin by
        # --split: what checking the typed values costs on its own.
        rng.setstate(state)
        usage = root / package
        usage.mkdir()
        (usage / "__init__.py").write_text("")
        for m in range(MODULES):
            body: list[str] = []
            used: set[int] = set()
            for f in range(FUNCTIONS_PER_MODULE):
                model = models[rng.randrange(1, len(models))]
                used.add(model.index)
                body.append(function(m * FUNCTIONS_PER_MODULE + f, model, models, rng, used, typed=typed))
            imports = sorted(used)
            header = "from relations import R\n\n"
            for a in range(APPS):
                names = [models[i].name for i in imports if models[i].app == f"app{a}"]
                if names:
                    header += f"from app{a}.models import {', '.join(names)}\n"
            (usage / f"mod{m}.py").write_text(header + "".join(body))


def function(
    k: int, model: Model, models: list[Model], rng: random.Random, used: set[int], *, typed: bool
) -> str:
    """One function of valid code: loads, uses every result according to its type.

    ``typed``: the same code for a run without the plugin, every R() result in a
    variable annotated with the type the plugin gives it (the functional ``R()``, as
    ``obj.R`` is the plugin's), so mypy checks the same typed values either way.
    """

    def load(var: str, receiver: str, path: str, target: int, shape: str = "{}", sync: bool = False) -> str:
        if typed:
            used.add(target)
            call = f'R({receiver}, "{path}")'
            annotation = ": " + shape.format(models[target].name)
        else:
            call = f'{receiver}.R("{path}")' if "__" not in path else f'R({receiver}, "{path}")'
            annotation = ""
        return f"{var}{annotation} = " + (f"{call}.sync()" if sync else f"await {call}")

    parent = models[model.single["parent"]]
    lines = [f"\n\nasync def f{k}(obj: {model.name}) -> list[str]:\n", "    out: list[str] = []\n"]
    lines.append(f"    {load('parent', 'obj', 'parent', parent.index)}\n    out.append(parent.name)\n")
    if "parent" in parent.single:
        grand = parent.single["parent"]
        lines.append(f"    {load('grand', 'obj', 'parent__parent', grand)}\n    out.append(grand.name)\n")
    for name in sorted(model.optional)[:1]:
        maybe = load("maybe", "obj", name, model.optional[name], "{} | None", sync=True)
        lines.append(f"    {maybe}\n    if maybe is not None:\n        out.append(maybe.name)\n")
    for n, name in enumerate(sorted(model.many)[:2]):
        if typed:
            items = load(f"items{n}", "obj", name, model.many[name], "list[{}]")
            lines.append(f"    {items}\n    for item{n} in items{n}:\n        out.append(item{n}.name)\n")
        else:
            lines.append(f'    for item{n} in await obj.R("{name}"):\n        out.append(item{n}.name)\n')
    for name in sorted(parent.many)[:1]:
        siblings = load("siblings", "obj", f"parent__{name}", parent.many[name], "list[{}]")
        lines.append(f"    {siblings}\n    out.extend(s.name for s in siblings)\n")
    lines.append(
        f'    async for row in {model.name}.objects.select_related("parent").filter(name=obj.name)[:10]:\n'
        "        out.append(row.parent.name)\n"
    )
    if rng.random() < 0.3:
        lines.append(f"    first = await {model.name}.objects.filter(parent_id=obj.pk).afirst()\n")
        if typed:
            fp = load("first_parent", "first", "parent", parent.index)
            lines.append(f"    if first is not None:\n        {fp}\n        out.append(first_parent.name)\n")
        else:
            lines.append('    if first is not None:\n        out.append((await first.R("parent")).name)\n')
    lines.append("    return out\n")
    return "".join(lines)


def write_config(root: Path, name: str, plugins: list[str], loaded: bool, usage: str = "usage") -> Path:
    path = root / f"{name}.ini"
    path.write_text(
        "[mypy]\n"
        f"plugins = {', '.join(plugins)}\n"
        + ("enable_error_code = relation-not-loaded\n" if loaded else "")
        + f"mypy_path = {REPO}\n"
        f"files = app0, app1, app2, app3, app4, {usage}\n"
        "python_version = 3.11\n"
        "check_untyped_defs = True\n"
        "\n[mypy.plugins.django-stubs]\n"
        "django_settings_module = benchsettings\n"
    )
    return path


# --split: the plugin with every R() refinement computed, then dropped (R() stays
# RelationLoad[Any], as without refinement): the cost of the plugin's own code.
HOOKS_ONLY = """from {plugin} import plugin as _plugin

_Plugin = _plugin("")


class HooksOnly(_Plugin):
    def _refine_r(self, api, context, receiver, path_type, default):
        super()._refine_r(api, context, receiver, path_type, default)
        return default


def plugin(version):
    return HooksOnly
"""


def run_mypy(root: Path, config: Path) -> tuple[float, float, str]:
    """One cold run: fresh cache directory, new process.  Returns (wall s, CPU s, summary line)."""
    cache = Path(tempfile.mkdtemp(prefix="mypy-cache-", dir=root))
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{REPO}"}
    command = [sys.executable, "-m", "mypy", "--config-file", str(config), "--cache-dir", str(cache)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=900)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    shutil.rmtree(cache, ignore_errors=True)
    lines = result.stdout.strip().splitlines()
    summary = lines[-1] if lines else result.stderr.strip().splitlines()[-1]
    if result.returncode not in (0, 1) or not re.match(r"(Success|Found \d+ errors?)", summary):
        raise SystemExit(
            f"mypy failed ({result.returncode}) with {config.name}:\n{result.stdout}\n{result.stderr}"
        )
    return elapsed, cpu, summary


def errors(summary: str) -> int:
    found = re.match(r"Found (\d+) errors?", summary)
    return int(found.group(1)) if found else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--plugin", default="relations.stubs.mypy_plugin", help="the plugin module")
    parser.add_argument("--loaded", action="store_true", help="add a row with relation-not-loaded enabled")
    parser.add_argument(
        "--split",
        action="store_true",
        help="add rows that split the overhead: the plugin's own hooks, and typed code without the plugin",
    )
    parser.add_argument("--keep", type=Path, help="generate the project here and keep it")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    root = args.keep or Path(tempfile.mkdtemp(prefix="typing-bench-"))
    if args.keep:
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
    rng = random.Random(args.seed)
    models = build_models(rng)
    write_project(root, models, rng)
    lines = sum(len(p.read_text().splitlines()) for p in root.rglob("*.py") if "usage_typed" not in p.parts)
    configs = {
        "django-stubs": write_config(root, "base", ["mypy_django_plugin.main"], loaded=False),
        f"django-stubs + {args.plugin}": write_config(
            root, "plugin", ["mypy_django_plugin.main", args.plugin], False
        ),
    }
    if args.split:
        (root / "hooks_only_plugin.py").write_text(HOOKS_ONLY.format(plugin=args.plugin))
        configs["  split: django-stubs + plugin, R() types computed but not used"] = write_config(
            root, "hooks", ["mypy_django_plugin.main", "hooks_only_plugin"], False
        )
        configs["  split: django-stubs alone, the same code with R() results annotated by hand"] = (
            write_config(root, "typed", ["mypy_django_plugin.main"], False, usage="usage_typed")
        )
    if args.loaded:
        configs["  + relation-not-loaded"] = write_config(
            root, "loaded", ["mypy_django_plugin.main", args.plugin], loaded=True
        )
    import django
    import mypy.version

    print(
        f"Project: {len(models)} models in {APPS} apps, {MODULES * FUNCTIONS_PER_MODULE} functions in "
        f"{MODULES} modules, {lines} lines ({root}).\n"
        f"mypy {mypy.version.__version__}, Django {django.__version__}, Python {sys.version.split()[0]}; "
        f"{args.rounds} cold runs per configuration, alternating."
    )
    wall: dict[str, list[float]] = {name: [] for name in configs}
    cpu: dict[str, list[float]] = {name: [] for name in configs}
    summaries: dict[str, str] = {}
    for round_ in range(args.rounds):
        for name, config in configs.items():
            elapsed, used, summaries[name] = run_mypy(root, config)
            wall[name].append(elapsed)
            cpu[name].append(used)
            print(f"  round {round_ + 1}: {name.strip()}: {elapsed:.2f} s wall, {used:.2f} s CPU", flush=True)
    plugin_row = f"django-stubs + {args.plugin}"
    print(
        "\n| configuration | wall median (s) | wall min-max (s) | wall ratio "
        "| CPU median (s) | CPU min-max (s) | CPU ratio | mypy errors |\n|---|---|---|---|---|---|---|---|"
    )
    for name in configs:
        cells = []
        for values in (wall, cpu):
            median = statistics.median(values[name])
            base = statistics.median(values["django-stubs"])
            low, high = min(values[name]), max(values[name])
            cells.append(f"{median:.2f} | {low:.2f}-{high:.2f} | {median / base:.2f}x")
        print(f"| {name.strip()} | {' | '.join(cells)} | {errors(summaries[name])} |")
    for label, values in (("wall", wall), ("CPU", cpu)):
        ratio = statistics.median(values[plugin_row]) / statistics.median(values["django-stubs"])
        verdict = "within" if ratio <= TARGET else "OVER"
        target = f"{100 * (TARGET - 1):.0f}%"
        print(f"Plugin overhead ({label}): {100 * (ratio - 1):+.1f}% ({verdict} the +{target} target).")
    if args.split:
        hooks, typed = (
            next(n for n in configs if n.startswith(f"  split: {w}"))
            for w in ("django-stubs +", "django-stubs alone")
        )
        for label, values in (("wall", wall), ("CPU", cpu)):
            base = statistics.median(values["django-stubs"])
            own = statistics.median(values[hooks]) / base - 1
            typed_base = statistics.median(values[typed])
            over_typed = statistics.median(values[plugin_row]) / typed_base - 1
            print(
                f"Split ({label}): the plugin's own hooks {100 * own:+.1f}% over django-stubs; the plugin "
                f"{100 * over_typed:+.1f}% over the same code annotated by hand without it."
            )
    print(
        "The baseline's errors are the `obj.R` calls django-stubs alone does not know; "
        "their results are Any there."
    )
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
