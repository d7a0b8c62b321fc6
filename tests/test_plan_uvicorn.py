"""The example's DRF view and async django-ninja endpoint under uvicorn, in raise mode.

A user's setup: ``manage.py seed`` into a fresh SQLite file, then one uvicorn worker on
a free loopback port serving ``bookstore.asgi``.  The endpoints name no relation; the
plans of their serializer and schema load them.  Under uvicorn the ninja endpoint runs
in a real event loop (``aprefetch`` on the driver ``ASYNC_DRIVER="auto"`` picks), where
any relation the plan missed would raise ``RelationNotLoaded`` (a 500).  Both answers
are compared with the database read by plain SQL.  Bounded: a few requests, a 60 s start limit.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "example"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fetch(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    db = tmp_path_factory.mktemp("uvicorn") / "bookstore.sqlite3"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOOKSTORE_")}
    env.update(BOOKSTORE_DB=str(db), BOOKSTORE_DEBUG="0", DJANGO_SETTINGS_MODULE="bookstore.settings")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    seeded = subprocess.run(
        [sys.executable, "manage.py", "seed"],
        cwd=EXAMPLE,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert seeded.returncode == 0, seeded.stderr
    port = free_port()
    log = tmp_path_factory.mktemp("uvicorn-log") / "server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "bookstore.asgi:application", "--app-dir", str(EXAMPLE),
             "--host", "127.0.0.1", "--port", str(port), "--lifespan", "off", "--no-access-log"],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "uvicorn did not listen within 60 s"
                time.sleep(0.1)
        yield {"port": port, "db": db, "log": log}
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def expected_books(db: Path) -> list[list[Any]]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT b.id, b.title, a.name, p.name FROM shop_book b JOIN shop_author a ON a.id = b.author_id "
            "JOIN shop_publisher p ON p.id = a.publisher_id ORDER BY b.id LIMIT 50"
        ).fetchall()
        tags: dict[int, list[str]] = {}
        for book_id, name in conn.execute(
            "SELECT bt.book_id, t.name FROM shop_book_tags bt JOIN shop_tag t ON t.id = bt.tag_id "
            "ORDER BY bt.book_id, t.name"
        ):
            tags.setdefault(book_id, []).append(name)
    return [[pk, title, author, publisher, tags.get(pk, [])] for pk, title, author, publisher in rows]


@pytest.mark.parametrize("path", ["/api/drf/books/", "/api/ninja/books"])
def test_the_api_under_uvicorn_serves_the_database(server, path):
    status, body = fetch(server["port"], path)
    assert status == 200, body.decode(errors="replace") + server["log"].read_text()
    books = json.loads(body)
    shown = [
        [b["id"], b["title"], b["author"]["name"], b["author"]["publisher"]["name"], b["tags"]] for b in books
    ]
    assert shown == expected_books(server["db"])
    assert "Traceback" not in server["log"].read_text()
