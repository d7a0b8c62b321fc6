#!/usr/bin/env python
"""HTTP load on the example's two book pages under uvicorn, side by side in one run.

    .venv/dj61/bin/python benchmarks/http_views.py                  # SQLite file in a temp dir
    .venv/dj61/bin/python benchmarks/http_views.py --db postgres    # scratch database relations_http_bench
    .venv/dj61/bin/python benchmarks/http_views.py --driver thread  # RELATIONS["ASYNC_DRIVER"], default auto
    .venv/dj61/bin/python benchmarks/http_views.py --clients 1,4,32 --requests 600 --rounds 7 --n 100

The pages are ``/books/strict/`` (``aprefetch(books, "author", tags)``) and
``/books/django/`` (Django's ``aprefetch_related_objects``), from
``example/bookstore/shop/views.py``: the same three queries and the same HTML.

The run seeds the example's bookstore (``manage.py seed``: 1,000 books, 200 authors,
30 tags) into a temporary SQLite file or a scratch PostgreSQL database it creates and
drops, starts one uvicorn worker on 127.0.0.1 (a free port, ``DEBUG`` off, access log
off, asyncio loop and h11), checks that both pages return the same HTML, and then, for
each ``--clients`` level, sends ``--requests`` requests to each page per round from
that many concurrent keep-alive HTTP/1.1 connections (a stdlib asyncio client in this
process; connections are opened before the clock starts).  Rounds alternate which page
goes first; each page is warmed up before the first round.  Reported per page: the
median over rounds of requests per second (with min and max) and of the p50 and p99
request latency, and the strict/django ratio of the medians.  The server is stopped
(SIGINT, then SIGKILL after 10 s) and the scratch database dropped however the run
ends (done, error, Ctrl-C or SIGTERM).

``--driver`` sets ``RELATIONS["ASYNC_DRIVER"]`` for the server through the example
settings' ``BOOKSTORE_ASYNC_DRIVER``; ``--pool`` sets the size of Django's psycopg
pool (``BOOKSTORE_PG_POOL_SIZE``) on PostgreSQL; ``--rtt MS`` puts ``delayproxy.py`` (a loopback
proxy adding MS milliseconds to every round trip, started and stopped by the run)
between the server and PostgreSQL, as ``latency.py`` does.  PostgreSQL: 127.0.0.1:5432, user
postgres (``PGHOST``, ``PGPORT``, ``PGUSER`` override).  Loopback only: client and
server share the machine's cores, so absolute figures are for comparing the two pages
within one run, not for capacity planning.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import django

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
EXAMPLE = REPO / "example"
sys.path.insert(0, str(HERE))

from delayproxy import DelayProxy  # noqa: E402
from pgscratch import pg_admin, pg_params  # noqa: E402  (benchmarks/, on the path above)

PG_DB = os.environ.get("RELATIONS_HTTP_BENCH_PG_NAME", "relations_http_bench")
VIEWS = ("strict", "django")
START_TIMEOUT = 30.0


# -- database and server --------------------------------------------------------------


def server_env(args: argparse.Namespace, tmpdir: str, proxy_port: int | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOOKSTORE_")}
    env.update(
        DJANGO_SETTINGS_MODULE="bookstore.settings",
        BOOKSTORE_DEBUG="0",
        BOOKSTORE_ASYNC_DRIVER=args.driver,
        PYTHONUNBUFFERED="1",
    )
    if args.db == "postgres":
        env["BOOKSTORE_PG_NAME"] = PG_DB
        env["BOOKSTORE_PG_POOL_SIZE"] = str(args.pool)
        env.update({f"PG{k.upper()}": v for k, v in pg_params().items()})
        if proxy_port is not None:
            env.update(PGHOST="127.0.0.1", PGPORT=str(proxy_port))
    else:
        env["BOOKSTORE_DB"] = os.path.join(tmpdir, "bookstore.sqlite3")
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(env: dict[str, str], port: int, log_path: str) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "bookstore.asgi:application",
        "--app-dir",
        str(EXAMPLE),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--loop",
        "asyncio",
        "--http",
        "h11",
        "--lifespan",
        "off",  # Django has no lifespan support
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    with open(log_path, "wb") as log:
        # A session of its own: Ctrl-C in this terminal reaches only this script, which
        # then stops the server itself.
        return subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop_server(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is not None:
        return
    server.send_signal(signal.SIGINT)  # uvicorn's graceful shutdown
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def log_tail(log_path: str, lines: int = 40) -> str:
    with open(log_path, errors="replace") as log:
        return "".join(log.readlines()[-lines:])


# -- the HTTP client ------------------------------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection to the server, one request at a time."""

    def __init__(self, port: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.port = port
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(port, reader, writer)

    async def get(self, path: str) -> tuple[int, bytes]:
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n\r\n".encode("ascii"))
        await self.writer.drain()
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("the server closed the connection")
        status = int(status_line.split()[1])
        headers: dict[str, str] = {}
        while (line := await self.reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            return status, await self.reader.readexactly(int(headers["content-length"]))
        if headers.get("transfer-encoding", "").lower() == "chunked":
            return status, await self._chunked()
        raise ConnectionError(f"a response without Content-Length or chunked encoding: {headers}")

    async def _chunked(self) -> bytes:
        body = bytearray()
        while size := int((await self.reader.readline()).split(b";")[0], 16):
            body += await self.reader.readexactly(size)
            await self.reader.readline()
        while (await self.reader.readline()) not in (b"\r\n", b"\n", b""):
            pass  # trailers
        return bytes(body)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


async def wait_until_up(server: subprocess.Popen[bytes], port: int, path: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with code {server.returncode}")
        try:
            conn = await Connection.open(port)
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not listen within {START_TIMEOUT:.0f} s") from None
            await asyncio.sleep(0.1)
            continue
        try:
            status, body = await conn.get(path)
        finally:
            await conn.close()
        if status != 200:
            raise RuntimeError(f"GET {path} answered {status}: {body[:500].decode(errors='replace')}")
        return


@dataclass
class Sample:
    """One page's requests in one round."""

    seconds: float
    latencies: list[float]

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def load(port: int, path: str, clients: int, requests: int) -> Sample:
    """``requests`` GETs of ``path`` over ``clients`` concurrent connections."""
    connections = [await Connection.open(port) for _ in range(clients)]
    remaining = requests
    latencies: list[float] = []

    async def client(conn: Connection) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            start = time.perf_counter()
            status, body = await conn.get(path)
            latencies.append(time.perf_counter() - start)
            if status != 200:
                raise RuntimeError(f"GET {path} answered {status}: {body[:500].decode(errors='replace')}")

    try:
        start = time.perf_counter()
        await asyncio.gather(*(client(conn) for conn in connections))
        seconds = time.perf_counter() - start
    finally:
        for conn in connections:
            await conn.close()
    return Sample(seconds, latencies)


# -- the run --------------------------------------------------------------------------


@dataclass
class Level:
    clients: int
    samples: dict[str, list[Sample]] = field(default_factory=lambda: {v: [] for v in VIEWS})


async def measure(args: argparse.Namespace, port: int) -> list[Level]:
    paths = {view: f"/books/{view}/?n={args.n}" for view in VIEWS}
    bodies = {}
    for view, path in paths.items():
        conn = await Connection.open(port)
        try:
            status, bodies[view] = await conn.get(path)
        finally:
            await conn.close()
        if status != 200:
            raise RuntimeError(f"GET {path} answered {status}")
    if bodies["strict"] != bodies["django"]:
        raise RuntimeError("the two pages differ: the comparison would be meaningless")
    print(f"Both pages: {len(bodies['strict']):,} bytes of identical HTML for {args.n} books.")

    levels = []
    for clients in args.clients:
        level = Level(clients)
        for view in VIEWS:  # warm-up: the server's code paths, connections and caches
            await load(port, paths[view], clients, max(50, 4 * clients))
        for round_ in range(args.rounds):
            order = VIEWS if round_ % 2 == 0 else VIEWS[::-1]
            for view in order:
                level.samples[view].append(await load(port, paths[view], clients, args.requests))
        levels.append(level)
        print(f"  {clients} client(s): done")
    return levels


def report(args: argparse.Namespace, levels: list[Level], backend: str) -> None:
    print()
    print(
        f"{backend}, Django {django.get_version()}, Python {platform.python_version()}, "
        f'RELATIONS["ASYNC_DRIVER"]="{args.driver}", uvicorn 1 worker (asyncio, h11), DEBUG off'
    )
    if args.rtt is not None:
        print(f"PostgreSQL through delayproxy.py: +{args.rtt:g} ms per round trip")
    print(
        f"Page of {args.n} books with authors and tags; {args.requests} requests per page per round, "
        f"{args.rounds} rounds, alternating order; medians over rounds"
    )
    print()
    header = f"{'clients':>7}  {'page':<7} {'req/s':>8} {'(min - max)':>17} {'p50 ms':>8} {'p99 ms':>8}"
    print(header)
    print("-" * len(header))
    for level in levels:
        medians = {}
        for view in VIEWS:
            samples = level.samples[view]
            rps = [s.rps for s in samples]
            p50 = statistics.median(s.percentile(50) for s in samples) * 1000
            p99 = statistics.median(s.percentile(99) for s in samples) * 1000
            medians[view] = (statistics.median(rps), p50, p99)
            spread = f"({min(rps):,.0f} - {max(rps):,.0f})"
            rate = medians[view][0]
            print(f"{level.clients:>7}  {view:<7} {rate:>8,.0f} {spread:>17} {p50:>8.2f} {p99:>8.2f}")
        strict, plain = medians["strict"], medians["django"]
        print(
            f"{'':>7}  {'ratio':<7} {strict[0] / plain[0]:>7.2f}x {'strict/django':>17} "
            f"{strict[1] / plain[1]:>7.2f}x {strict[2] / plain[2]:>7.2f}x"
        )
    print()
    print("ratio: req/s strict / django (above 1: strict serves more); latency (below 1: strict is faster)")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--driver", choices=("auto", "native", "thread"), default="auto")
    parser.add_argument("--clients", default="1,16", help="comma-separated concurrency levels (default 1,16)")
    parser.add_argument("--requests", type=int, default=200, help="requests per page per round (default 200)")
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds (default 5)")
    parser.add_argument("--n", type=int, default=50, help="books per page (default 50)")
    parser.add_argument("--pool", type=int, default=8, help="PostgreSQL: Django's pool size (default 8)")
    parser.add_argument(
        "--rtt", type=float, help="PostgreSQL: reach it through a proxy adding this many ms per round trip"
    )
    args = parser.parse_args()
    try:
        args.clients = [int(c) for c in args.clients.split(",")]
    except ValueError:
        parser.error("--clients takes comma-separated whole numbers, e.g. 1,16")
    if min(args.clients) < 1 or args.requests < 1 or args.rounds < 1 or not 1 <= args.n <= 1000:
        parser.error("--clients, --requests and --rounds must be positive; --n from 1 to 1000")
    if args.rtt is not None and (args.db != "postgres" or not 0 <= args.rtt <= 50):
        parser.error("--rtt: with --db postgres, from 0 to 50 ms")
    return args


def interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    args = parse_args()
    # Ctrl-C, kill, or a shell that started this in the background with SIGINT ignored:
    # each of them ends up in the clean-up below (stop the server, drop the database).
    signal.signal(signal.SIGINT, interrupted)
    signal.signal(signal.SIGTERM, interrupted)
    print("$ " + shlex.join([Path(sys.executable).name, *sys.argv]))
    with tempfile.TemporaryDirectory(prefix="relations-http-") as tmpdir, contextlib.ExitStack() as stack:
        proxy = None
        if args.rtt is not None:
            params = pg_params()
            proxy = stack.enter_context(DelayProxy(params["host"], int(params["port"])))
            proxy.set_rtt(args.rtt)
        env = server_env(args, tmpdir, proxy.port if proxy else None)
        log_path = os.path.join(tmpdir, "server.log")
        server = None
        if args.db == "postgres":
            pg_admin(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
            pg_admin(f'CREATE DATABASE "{PG_DB}"')
        try:
            seeded = subprocess.run(
                [sys.executable, str(EXAMPLE / "manage.py"), "seed"],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if seeded.returncode:
                print(seeded.stdout + seeded.stderr, file=sys.stderr)
                return 1
            print("Seeded " + seeded.stdout.strip())
            port = free_port()
            server = start_server(env, port, log_path)
            try:
                asyncio.run(wait_until_up(server, port, "/books/strict/?n=1"))
                print(f"uvicorn pid {server.pid} on 127.0.0.1:{port}")
                levels = asyncio.run(measure(args, port))
            except (RuntimeError, OSError) as exc:
                print(f"error: {exc}\n--- server log ---\n{log_tail(log_path)}", file=sys.stderr)
                return 1
        finally:
            if server is not None:
                stop_server(server)
            if args.db == "postgres":
                pg_admin(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
        backend = "PostgreSQL" if args.db == "postgres" else "SQLite"
        report(args, levels, backend)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted: server stopped, scratch data removed", file=sys.stderr)
        sys.exit(130)
