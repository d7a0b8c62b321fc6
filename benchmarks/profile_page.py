#!/usr/bin/env python
"""Where a page's CPU goes: one latency.py case under yappi's CPU clock, every thread.

    pip install --target /tmp/yappi yappi
    PYTHONPATH=/tmp/yappi .venv/dj61/bin/python benchmarks/profile_page.py strict
    PYTHONPATH=/tmp/yappi .venv/dj61/bin/python benchmarks/profile_page.py django --setup default

Seeds latency.py's data into a scratch database (``relations_profile_bench`` or
$RELATIONS_BENCH_PG_NAME), reaches it through the delay proxy (``--rtt``, default 0:
CPU is what is measured), warms the case up, then runs ``--waves`` waves of 16
concurrent ASGI-style pages (as latency.py runs them) under yappi, and prints each
cost category's share of the profiled CPU time (own time of the functions in it)
and the functions with the most own time.  Profiling slows Python code several
times over, so the shares are what to read, not the milliseconds.  yappi is not a
dependency of the project: install it where this run can import it.
"""

from __future__ import annotations

import argparse
import asyncio
import os

import latency  # benchmarks/ (this script's folder): the pages, the proxy, the settings
from pgscratch import pg_admin, pg_params

# (category, test on "file:function"): the first that matches wins.
CATEGORIES = (
    (
        "pending bookkeeping and cache writes (library)",
        (
            "relations/loaders/pending",
            "relations/state",
            "relations/loaders/tasks",
            "relations/loaders/paths.py:write",
        ),
    ),
    ("peer tracking of every queryset (library)", ("relations/peers",)),
    (
        "plan: grouping, key matching, hops (library)",
        ("relations/loaders/strategies", "relations/loaders/paths"),
    ),
    ("SQL statement compile and materialize (library)", ("relations/drivers/statement",)),
    (
        "signals and query instrumentation",
        ("relations/drivers/observe", "django/dispatch", "db/backends/utils"),
    ),
    ("driver core and API (library)", ("relations/",)),
    (
        "instance building (Django)",
        (
            "models/base.py:__init__",
            "models/base.py:from_db",
            "models/query.py:__iter__",
            "compiler.py:results_iter",
            "compiler.py:apply_converters",
        ),
    ),
    (
        "key extraction (Django)",
        (
            "get_instance_value_for_fields",
            ":_get_pk_val",
            ":_is_pk_set",
            ":get_prep_value",
            ":get_normalized_value",
        ),
    ),
    ("related managers and descriptors (Django)", ("related_descriptors",)),
    ("queryset building and SQL compile (Django)", ("django/db/models",)),
    ("thread hop (asgiref, executor threads)", ("asgiref", "concurrent/", "threading", "queue")),
    ("psycopg and psycopg_pool", ("psycopg",)),
    ("event loop", ("asyncio", "selectors")),
    ("Django backend (connect, cursor)", ("django/db/backends",)),
)


def category(module: str, name: str) -> str:
    key = f"{module}:{name.rsplit('.', 1)[-1]}"
    return next((label for label, parts in CATEGORIES if any(p in key for p in parts)), "other")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("side", choices=latency.SIDES)
    parser.add_argument("--setup", choices=tuple(latency.SETUPS), default="pool")
    parser.add_argument("--rtt", type=float, default=0.0)
    parser.add_argument("--waves", type=int, default=10)
    args = parser.parse_args()
    try:
        import yappi
    except ImportError:
        parser.error("yappi is not importable: pip install --target DIR yappi, then PYTHONPATH=DIR")
    latency.PG_DB = os.environ.get("RELATIONS_BENCH_PG_NAME", "relations_profile_bench")
    params = pg_params()
    pg_admin(f"DROP DATABASE IF EXISTS {latency.PG_DB} WITH (FORCE)")
    pg_admin(f"CREATE DATABASE {latency.PG_DB}")
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    proxy = latency.DelayProxy(params["host"], int(params["port"]))
    try:
        proxy.set_rtt(args.rtt)
        latency.configure(proxy.port, 16)
        latency.house.create_and_seed()
        offsets = latency.Offsets()
        case = latency.Case(args.rtt, args.setup, 16, args.side)
        loop.run_until_complete(latency.run_case(case, 1, 3, offsets))  # warm-up
        yappi.set_clock_type("cpu")
        yappi.start(builtins=False, profile_threads=True)
        _, cpu, _ = loop.run_until_complete(latency.run_case(case, 1, args.waves, offsets))
        yappi.stop()
        stats = list(yappi.get_func_stats())
        pages = 16 * args.waves
        total = sum(s.tsub for s in stats)
        print(f"{case.name}: {pages} pages, {cpu * 1e3:.2f} ms CPU per page under the profiler")
        shares: dict[str, float] = {}
        for s in stats:
            label = category(s.module, s.name)
            shares[label] = shares.get(label, 0.0) + s.tsub
        for label, own in sorted(shares.items(), key=lambda item: -item[1]):
            print(f"  {100 * own / total:5.1f}%  {label}")
        print("functions with the most own time (ms per page, profiled; calls):")
        for s in sorted(stats, key=lambda s: -s.tsub)[:25]:
            where = s.module.split("site-packages/")[-1].replace(str(latency.HERE.parent) + "/", "")
            print(f"  {s.tsub / pages * 1e3:6.3f} {s.ncall:7d}  {where}:{s.lineno} {s.name}")
    finally:
        from django.conf import settings

        if settings.configured:
            from django.db import connections

            from relations.drivers import native  # type: ignore[attr-defined]

            loop.run_until_complete(native.aclose())
            connections.close_all()
            connections["pooled"].close_pool()
        loop.close()
        proxy.close()
        pg_admin(f"DROP DATABASE IF EXISTS {latency.PG_DB} WITH (FORCE)")


if __name__ == "__main__":
    main()
