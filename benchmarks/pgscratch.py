"""The scratch PostgreSQL database the benchmarks create and drop (PGHOST/PGPORT/PGUSER)."""

from __future__ import annotations

import os


def pg_params() -> dict[str, str]:
    """Connection parameters of the local server, from the usual PG* variables."""
    return {
        "host": os.environ.get("PGHOST", "127.0.0.1"),
        "port": os.environ.get("PGPORT", "5432"),
        "user": os.environ.get("PGUSER", "postgres"),
    }


def pg_admin(sql: str) -> None:
    """Run a statement on the maintenance database ``postgres`` (autocommit)."""
    import psycopg

    with psycopg.connect(dbname="postgres", autocommit=True, **pg_params()) as conn:
        conn.execute(sql)
