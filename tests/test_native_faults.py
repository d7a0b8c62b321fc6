"""Faults and load on the native PostgreSQL driver, over real connections (issue 3, item 9).

* a task cancelled while its query runs on the server (or while it waits for a
  pooled connection) writes no cache and gives its connection back: with a pool
  of one, the next load works at once;
* a backend killed with ``pg_terminate_backend`` while a load waits on it: the
  SELECT (which gave no row) runs once more on a new session; killed again, the
  load gives a ``django.db`` error with PostgreSQL's message, and the next ``R()``
  works; a cancelled statement (the session lives on) is not run again;
* after every idle pooled session was terminated (a failover), the very first
  ``R()`` works;
* a connect attempt cancelled at loop shutdown logs no empty "error connecting";
* a database that refuses connections, accepts TCP and never answers, or vanishes
  under an open pool gives a clear error within ``NATIVE_TIMEOUT`` instead of
  hanging, loads work again once it is back, and the process can still exit;
* native connections close when their event loop ends, even one that was still
  being opened then;
* 1,000 concurrent loads over a pool of 4 all get their own objects, and
  ``pg_stat_activity`` never shows more than 4 native connections.

A query is kept running deterministically by a lock: a separate connection takes
``ACCESS EXCLUSIVE`` on the table, and the test waits until ``pg_stat_activity``
shows the native query waiting for it.  No sleeps decide anything; the only time
bounds are "within the timeout" ones, with generous margins, and ``asyncio``
timeouts that turn a hang into a failure.

PostgreSQL only: the SQLite driver has one connection per loop and no server to
kill; these tests skip on SQLite with that reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, connections
from django.db.backends.signals import connection_created
from django.test.utils import override_settings

from relations.drivers import native
from relations.loaders.tasks import Fetch
from tests.fieldtypes.models import Kind, Owner, Sample

pytestmark = [
    pytest.mark.skipif(
        settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
        reason="PostgreSQL only: pools, pg_stat_activity and pg_terminate_backend do not exist on SQLite",
    ),
    pytest.mark.django_db(transaction=True),  # native connections only see committed rows
]

HANG = 60.0  # an await that takes this long is a hang: fail instead of blocking CI
GONE = 15.0  # a closed connection's backend has left pg_stat_activity well before this


def native_settings(**extra: Any) -> dict[str, Any]:
    return {"ASYNC_DRIVER": "native", "PEERS": False, **extra}


def run(body: Callable[[], Any]) -> Any:
    """Run ``body()`` in a fresh event loop (asgiref's), closing native connections at the end."""

    async def wrapper() -> Any:
        try:
            async with asyncio.timeout(HANG * 2):
                return await body()
        finally:
            await native.aclose()

    return async_to_sync(wrapper)()


def conninfo() -> dict[str, Any]:
    """Connection arguments for the test database (for the test's own observer connections)."""
    sd = connections["default"].settings_dict
    return {
        "dbname": sd["NAME"],
        "user": sd["USER"],
        "host": sd["HOST"],
        "port": int(sd["PORT"]),
        "autocommit": True,
    }


def django_pids() -> list[int]:
    """Backends of Django's own connections in this thread (not native ones)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return [cursor.fetchone()[0]]


class Observer:
    """A plain psycopg connection that watches ``pg_stat_activity`` and can lock a table."""

    def __init__(self, conn: Any, locker: Any, excluded: list[int]) -> None:
        self.conn, self.locker = conn, locker
        self.excluded = [*excluded, conn.info.backend_pid, locker.info.backend_pid]

    async def lock(self, table: str) -> None:
        await self.locker.set_autocommit(False)
        await self.locker.execute(f'LOCK TABLE "{table}" IN ACCESS EXCLUSIVE MODE')

    async def unlock(self) -> None:
        await self.locker.rollback()
        await self.locker.set_autocommit(True)

    async def native_pids(self, *, waiting: bool = False) -> list[int]:
        """Client backends on the test database other than Django's and the observer's."""
        cursor = await self.conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND backend_type = 'client backend' AND pid <> ALL(%s)"
            + (" AND wait_event_type = 'Lock'" if waiting else ""),
            [self.excluded],
        )
        return [row[0] for row in await cursor.fetchall()]

    async def wait_for_blocked(self) -> int:
        """The pid of the native backend waiting on the lock, once it waits."""
        async with asyncio.timeout(HANG):
            while not (pids := await self.native_pids(waiting=True)):
                await asyncio.sleep(0.005)
        assert len(pids) == 1, pids
        return pids[0]

    async def wait_until(self, predicate: Callable[[list[int]], bool]) -> list[int]:
        """Poll the native backends until ``predicate`` holds (backends exit asynchronously)."""
        async with asyncio.timeout(GONE):
            while not predicate(pids := await self.native_pids()):
                await asyncio.sleep(0.01)
        return pids


@contextlib.asynccontextmanager
async def observer(excluded: list[int]) -> AsyncIterator[Observer]:
    import psycopg  # here: the module is collected (and skipped) where psycopg is absent

    conn = await psycopg.AsyncConnection.connect(**conninfo())
    locker = await psycopg.AsyncConnection.connect(**conninfo())
    try:
        yield Observer(conn, locker, excluded)
    finally:
        await locker.close()
        await conn.close()


@pytest.fixture
def rows(transactional_db: Any) -> dict[str, Any]:
    owners = [Owner.objects.create(name=f"owner {i}") for i in range(2)]
    kinds = [Kind.objects.create(id=f"00000000-0000-0000-0000-{i:012d}", code="live") for i in range(1, 21)]
    Sample.objects.bulk_create(
        Sample(
            owner=owners[i % 2],
            kind=kinds[i % len(kinds)],
            at="2024-01-01T00:00:00Z",
            day="2024-01-01",
            clock="12:00",
            span="1 00:00:00",
            price="1.00",
            rate="0.5",
            whole="1",
            ratio=0.5,
            flag=True,
            data={"i": i},
            uid=f"10000000-0000-0000-0000-{i:012d}",
            blob=b"x",
            big=i,
            small=i,
            status="live",
            text=f"sample {i}",
        )
        for i in range(1000)
    )
    return {"owners": owners, "kinds": kinds}


def fresh_samples(n: int) -> list[Sample]:
    return list(Sample.objects.order_by("pk")[:n])


# --- (a) cancellation --------------------------------------------------------------------------------------


@override_settings(RELATIONS=native_settings(NATIVE_POOL_SIZE=1, NATIVE_TIMEOUT=5.0))
def test_cancelled_mid_query_writes_nothing_and_gives_the_connection_back(rows):
    sample, other = fresh_samples(2)
    excluded = django_pids()
    events: list[str] = []

    async def body() -> None:
        async with observer(excluded) as obs:
            await obs.lock("fieldtypes_kind")
            task = asyncio.create_task(sample.R("kind"))
            await obs.wait_for_blocked()
            events.append("query waits on the server")
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            events.append("cancelled")
            assert "kind" not in sample._state.fields_cache
            # The pool has one connection: this works only if the cancelled task gave it
            # back, its query no longer running (the kind table is still locked).
            async with asyncio.timeout(HANG):
                owner = await other.R("owner")
            events.append("pool served the next load")
            assert owner.pk == other.owner_id
            assert await obs.native_pids(waiting=True) == []  # nothing left waiting on the lock
            await obs.unlock()
            async with asyncio.timeout(HANG):
                kind = await sample.R("kind")
            assert kind.pk == sample.kind_id and sample._state.fields_cache["kind"] is kind

    run(body)
    assert events == ["query waits on the server", "cancelled", "pool served the next load"]


@override_settings(RELATIONS=native_settings(NATIVE_POOL_SIZE=1, NATIVE_TIMEOUT=5.0))
def test_cancelled_aprefetch_between_hops_writes_nothing(rows):
    from relations import aprefetch

    owners = list(Owner.objects.order_by("pk"))
    excluded = django_pids()

    async def body() -> None:
        async with observer(excluded) as obs:
            await obs.lock("fieldtypes_kind")  # the first hop (samples) runs, the second waits
            task = asyncio.create_task(aprefetch(owners, "samples__kind"))
            await obs.wait_for_blocked()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            for owner in owners:
                assert not getattr(owner, "_prefetched_objects_cache", {}), "a cache was written"
            await obs.unlock()
            async with asyncio.timeout(HANG):
                await aprefetch(owners, "samples__kind")
            loaded = owners[0]._prefetched_objects_cache["samples"]
            assert len(loaded) == 500 and all("kind" in s._state.fields_cache for s in loaded)

    run(body)


@override_settings(RELATIONS=native_settings(NATIVE_POOL_SIZE=1, NATIVE_TIMEOUT=5.0))
def test_cancelled_while_waiting_for_a_pooled_connection(rows):
    """A task cancelled in the pool's queue takes no connection with it."""
    first, second, third = fresh_samples(3)
    excluded = django_pids()

    async def body() -> None:
        async with observer(excluded) as obs:
            await obs.lock("fieldtypes_kind")
            holder = asyncio.create_task(first.R("kind"))  # takes the only connection, then waits
            await obs.wait_for_blocked()
            queued = asyncio.create_task(second.R("owner"))  # waits for the pool
            for _ in range(20):  # let it reach the pool's queue
                await asyncio.sleep(0)
            assert not queued.done()
            queued.cancel()
            with pytest.raises(asyncio.CancelledError):
                await queued
            await obs.unlock()
            async with asyncio.timeout(HANG):
                kind = await holder
                owner = await third.R("owner")
            assert kind.pk == first.kind_id and owner.pk == third.owner_id
            assert "owner" not in second._state.fields_cache

    run(body)


@override_settings(RELATIONS=native_settings(NATIVE_POOL_SIZE=1))
def test_native_connections_close_when_their_event_loop_ends(rows):
    """Without ``aclose()``: the loop's shutdown closes them (asgiref cancels its tasks).

    A pool of one, so that no connection is still being opened when the loop ends
    (that case is ``test_a_connection_opening_when_the_loop_ends_is_closed``)."""
    samples = fresh_samples(3)
    excluded = django_pids()

    async def body() -> list[int]:
        for sample in samples:
            await native.execute(Fetch(Kind.objects.filter(pk=sample.kind_id)))
        async with observer(excluded) as obs:
            return await obs.native_pids()

    opened = async_to_sync(body)()  # no aclose() here, unlike run()
    assert len(opened) == 1, opened

    async def remaining() -> list[int]:
        async with observer(excluded) as obs:
            return await obs.wait_until(lambda pids: not set(pids) & set(opened))

    assert not set(async_to_sync(remaining)()) & set(opened)


@override_settings(RELATIONS=native_settings(NATIVE_POOL_SIZE=1))
def test_a_connection_opening_when_the_loop_ends_is_closed(rows, caplog):
    """The loop ends while Django is still opening a pooled connection in a worker
    thread: once that thread finishes, the connection must be closed, not orphaned
    (left to the garbage collector); and psycopg_pool's log shows no empty
    "error connecting in 'relations-default': " for the abandoned attempt."""
    [sample] = fresh_samples(1)
    excluded = django_pids()
    entered, release = threading.Event(), threading.Event()
    opened: list[int] = []

    def hold_the_first_connect(sender: Any, connection: Any, **kwargs: Any) -> None:
        if connection.vendor == "postgresql" and not opened and threading.current_thread() is not main:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                opened.append(cursor.fetchone()[0])
            entered.set()
            release.wait(HANG)

    async def release_at_shutdown() -> None:
        # The loop's shutdown cancels every task at once: the load, the pool's connect
        # and this one, which then lets the connect finish in its thread.
        try:
            await asyncio.Event().wait()
        finally:
            release.set()

    async def body() -> None:
        loop = asyncio.get_running_loop()
        keep = [loop.create_task(release_at_shutdown())]  # strong references: the loop keeps weak ones
        keep.append(loop.create_task(native.execute(Fetch(Kind.objects.filter(pk=sample.kind_id)))))
        async with asyncio.timeout(HANG):
            while not entered.is_set():
                await asyncio.sleep(0.005)
        # Return now: the loop ends with the load and the connect still pending.

    main = threading.current_thread()
    connection_created.connect(hold_the_first_connect)
    try:
        with caplog.at_level(logging.INFO, logger="psycopg.pool"):
            async_to_sync(body)()
    finally:
        release.set()
        connection_created.disconnect(hold_the_first_connect)
    assert opened, "no native connection was opened"
    pool_log = [r.getMessage() for r in caplog.records if r.name == "psycopg.pool"]
    assert any("growing pool 'relations-default'" in m for m in pool_log), pool_log
    assert not [m for m in pool_log if m.startswith("error connecting")], pool_log

    async def remaining() -> list[int]:
        async with observer(excluded) as obs:
            return await obs.wait_until(lambda pids: not set(pids) & set(opened))

    assert not set(async_to_sync(remaining)()) & set(opened)


# --- (b) a backend killed mid-load -------------------------------------------------------------------------


@override_settings(RELATIONS=native_settings(NATIVE_POOL_SIZE=1, NATIVE_TIMEOUT=5.0))
def test_backend_terminated_mid_load_runs_the_select_once_more_then_gives_a_clear_error(rows):
    sample, other = fresh_samples(2)
    excluded = django_pids()

    async def body() -> None:
        async with observer(excluded) as obs:
            await obs.lock("fieldtypes_kind")
            task = asyncio.create_task(sample.R("kind"))
            pid = await obs.wait_for_blocked()
            await obs.conn.execute("SELECT pg_terminate_backend(%s)", [pid])
            # The SELECT gave no row: it runs again, on a new session (waiting on the lock too).
            await obs.wait_until(lambda pids: pid not in pids)
            retry_pid = await obs.wait_for_blocked()
            assert retry_pid != pid and not task.done()
            await obs.conn.execute("SELECT pg_terminate_backend(%s)", [retry_pid])
            # Only once: a session lost again is the caller's error.
            with pytest.raises((OperationalError, InterfaceError)) as raised:
                async with asyncio.timeout(HANG):
                    await task
            assert "terminating connection due to administrator command" in str(raised.value)
            assert "kind" not in sample._state.fields_cache
            await obs.unlock()
            async with asyncio.timeout(HANG):
                kind = await sample.R("kind")
                owner = await other.R("owner")
            assert kind.pk == sample.kind_id and owner.pk == other.owner_id
            assert not {pid, retry_pid} & set(await obs.native_pids())

    run(body)


@override_settings(RELATIONS=native_settings(NATIVE_POOL_SIZE=1, NATIVE_TIMEOUT=5.0))
def test_a_cancelled_statement_is_not_run_again(rows):
    sample = fresh_samples(1)[0]
    excluded = django_pids()

    async def body() -> None:
        async with observer(excluded) as obs:
            await obs.lock("fieldtypes_kind")
            task = asyncio.create_task(sample.R("kind"))
            pid = await obs.wait_for_blocked()
            # The session lives on: a statement error is not a lost session.
            await obs.conn.execute("SELECT pg_cancel_backend(%s)", [pid])
            with pytest.raises(OperationalError, match="canceling statement due to user request"):
                async with asyncio.timeout(HANG):
                    await task
            assert await obs.native_pids() == [pid]
            await obs.unlock()

    run(body)


@pytest.mark.parametrize("size", [1, 4])
def test_the_first_load_after_every_idle_session_was_terminated_works(rows, size):
    # A failover, idle_session_timeout or a proxy restart ends every idle session.
    samples = fresh_samples(size + 2)
    excluded = django_pids()

    async def body() -> None:
        async with observer(excluded) as obs:
            backend = await native.prepare("default")
            # Concurrent queries (not coalesced R() calls) fill the pool with sessions.
            await asyncio.gather(*(backend.fetchall("SELECT pg_sleep(0.05)", ()) for _ in range(size)))
            pids = await obs.wait_until(lambda pids: len(pids) == size)
            await obs.conn.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", [pids])
            await obs.wait_until(lambda now: not set(pids) & set(now))
            async with asyncio.timeout(HANG):
                kind = await samples[size].R("kind")  # no error: not even one call fails
                kinds = await asyncio.gather(*(s.R("kind") for s in samples[size + 1 :]))
            assert kind.pk == samples[size].kind_id
            assert [k.pk for k in kinds] == [s.kind_id for s in samples[size + 1 :]]
            assert not set(pids) & set(await obs.native_pids())

    with override_settings(RELATIONS=native_settings(NATIVE_POOL_SIZE=size, NATIVE_TIMEOUT=5.0)):
        run(body)


def test_real_connection_errors_are_still_logged():
    from relations.drivers.postgresql import _CancelledConnectAttempt

    keep = _CancelledConnectAttempt().filter
    record = logging.LogRecord("psycopg.pool", 30, "", 0, "error connecting in %r: %s", None, None)
    record.args = ("relations-default", OperationalError("connection refused"))
    assert keep(record)
    record.args = ("relations-default", asyncio.CancelledError())
    assert not keep(record)
    record.args = ("someone-else", asyncio.CancelledError())
    assert keep(record)


# --- (c) the database is down ------------------------------------------------------------------------------


class Proxy:
    """A TCP port in front of the real PostgreSQL that can play a hung server.

    ``hang()``: connections are accepted and never answered (open ones are cut);
    ``forward()``: the database is back (hung ones are cut, new ones reach PostgreSQL).
    """

    def __init__(self, upstream: tuple[str, int], *, forwarding: bool) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.forwarding = forwarding
        self.held: list[socket.socket] = []
        self.live: list[socket.socket] = []
        self.accepted = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.accepted += 1
            if not self.forwarding:
                self.held.append(client)
                continue
            server = socket.create_connection(self.upstream)
            self.live += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_RDWR)

    @staticmethod
    def _cut(sockets: list[socket.socket]) -> None:
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        sockets.clear()

    def hang(self) -> None:
        self.forwarding = False
        self._cut(self.live)

    def forward(self) -> None:
        self.forwarding = True
        self._cut(self.held)

    def close(self) -> None:
        self.listener.close()
        self._cut(self.held)
        self._cut(self.live)


def proxy(*, forwarding: bool) -> Proxy:
    sd = connections["default"].settings_dict
    return Proxy((sd["HOST"], int(sd["PORT"])), forwarding=forwarding)


@contextlib.contextmanager
def database_at(port: int) -> Iterator[None]:
    """Point the default alias at ``port`` (native backends copy the settings when created)."""
    sd = connections["default"].settings_dict
    original = sd["PORT"]
    sd["PORT"] = str(port)
    try:
        yield
    finally:
        sd["PORT"] = original


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


TIMEOUT = 1.5


@override_settings(RELATIONS=native_settings(NATIVE_TIMEOUT=TIMEOUT))
def test_refused_connection_gives_a_clear_error_within_the_timeout(rows):
    [sample] = fresh_samples(1)
    port = closed_port()

    async def body() -> float:
        start = time.monotonic()
        with pytest.raises(OperationalError) as raised:
            async with asyncio.timeout(HANG):
                await sample.R("kind")
        elapsed = time.monotonic() - start
        message = str(raised.value)
        assert "'default'" in message, message  # which database
        assert "NATIVE_TIMEOUT" in message or str(port) in message, message
        return elapsed

    with database_at(port):
        elapsed = run(body)
    assert elapsed < TIMEOUT + 10, elapsed  # bounded by the timeout, with a generous margin
    assert "kind" not in sample._state.fields_cache


@override_settings(RELATIONS=native_settings(NATIVE_TIMEOUT=TIMEOUT))
def test_refused_connection_error_says_why(rows):
    """The error names the cause (PostgreSQL's "Connection refused"), not only a pool timeout."""
    [sample] = fresh_samples(1)
    port = closed_port()

    async def body() -> None:
        with pytest.raises(OperationalError) as raised:
            async with asyncio.timeout(HANG):
                await sample.R("kind")
        assert "refused" in str(raised.value).lower() or "refused" in str(raised.value.__cause__).lower(), (
            str(raised.value)
        )

    with database_at(port):
        run(body)


@override_settings(RELATIONS=native_settings(NATIVE_TIMEOUT=TIMEOUT))
def test_hung_server_gives_an_error_within_the_timeout_then_loads_work_when_it_is_back(rows):
    first, second = fresh_samples(2)
    hole = proxy(forwarding=False)

    async def body() -> float:
        start = time.monotonic()
        with pytest.raises(OperationalError) as raised:
            async with asyncio.timeout(HANG):
                await first.R("kind")
        elapsed = time.monotonic() - start
        assert "'default'" in str(raised.value), str(raised.value)
        assert hole.accepted >= 1  # it did try this server
        assert "kind" not in first._state.fields_cache
        hole.forward()
        async with asyncio.timeout(HANG):
            kind = await load_until_it_works(lambda: second.R("kind"))
        assert kind.pk == second.kind_id
        return elapsed

    try:
        with database_at(hole.port):
            elapsed = run(body)
    finally:
        hole.close()
    assert elapsed < TIMEOUT + 10, elapsed


async def load_until_it_works(load: Callable[[], Any], attempts: int = 10) -> Any:
    """The pool reconnects in the background with a backoff: allow it several timeouts' worth."""
    for attempt in range(attempts):
        try:
            return await load()
        except OperationalError:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


@override_settings(RELATIONS=native_settings(NATIVE_TIMEOUT=TIMEOUT, NATIVE_POOL_SIZE=1))
def test_database_going_away_under_an_open_pool_then_coming_back(rows):
    first, second, third = fresh_samples(3)
    gate = proxy(forwarding=True)

    async def body() -> None:
        async with asyncio.timeout(HANG):
            assert (await first.R("kind")).pk == first.kind_id  # the pool is open and warm
        gate.hang()  # the server vanishes: the pooled connection is cut, new ones hang
        with pytest.raises((OperationalError, InterfaceError)) as raised:
            async with asyncio.timeout(HANG):
                await load_until_it_fails(lambda: second.R("kind"))
        assert str(raised.value)
        assert "kind" not in second._state.fields_cache
        gate.forward()
        async with asyncio.timeout(HANG):
            kind = await load_until_it_works(lambda: third.R("kind"))
        assert kind.pk == third.kind_id

    try:
        with database_at(gate.port):
            run(body)
    finally:
        gate.close()


async def load_until_it_fails(load: Callable[[], Any], attempts: int = 3) -> None:
    """A cut connection may surface on the first query or the next: a few tries, then it must fail."""
    for _ in range(attempts):
        await load()
    raise AssertionError(f"{attempts} loads succeeded against a hung server")


HUNG_EXIT_SCRIPT = """
import asyncio, os, sys, django
django.setup()
from django.conf import settings
from django.db import OperationalError
settings.DATABASES["default"]["PORT"] = sys.argv[1]
settings.RELATIONS = {"ASYNC_DRIVER": "native", "NATIVE_TIMEOUT": float(sys.argv[2])}
from tests.fieldtypes.models import Sample
sample = Sample(pk=1, owner_id=1, kind_id="00000000-0000-0000-0000-000000000001")
sample._state.adding = False
async def main():
    try:
        await sample.R("kind")
    except OperationalError as exc:
        print("error:", exc, flush=True)
asyncio.run(main())
print("exiting", flush=True)
"""


def test_a_hung_server_does_not_hang_interpreter_exit():
    """The error comes within the timeout and the process then exits, although the
    connection attempt behind it never got an answer."""
    import os
    import subprocess
    import sys

    hole = proxy(forwarding=False)
    try:
        started = time.monotonic()
        try:
            done = subprocess.run(
                [sys.executable, "-c", HUNG_EXIT_SCRIPT, str(hole.port), str(TIMEOUT)],
                capture_output=True,
                text=True,
                timeout=TIMEOUT + 30,
                env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
                cwd=str(Path(__file__).resolve().parents[1]),
            )
        except subprocess.TimeoutExpired as exc:
            raise AssertionError(
                f"the process did not exit {TIMEOUT + 30:g} s after a native load against a hung server; "
                f"output so far: {exc.stdout!r}"
            ) from exc
        elapsed = time.monotonic() - started
    finally:
        hole.close()
    assert done.returncode == 0, done.stderr
    assert "error: No PostgreSQL connection for database alias 'default'" in done.stdout, done.stdout
    assert done.stdout.rstrip().endswith("exiting")
    assert hole.accepted >= 1
    assert elapsed < TIMEOUT + 30


# --- (d) load ----------------------------------------------------------------------------------------------


async def sample_peak(obs: Observer, done: asyncio.Event, peaks: list[int]) -> None:
    while not done.is_set():
        peaks.append(len(await obs.native_pids()))
        await asyncio.sleep(0)


@override_settings(RELATIONS=native_settings(NATIVE_POOL_SIZE=4))
def test_a_thousand_concurrent_r_calls_over_a_pool_of_four(rows):
    samples = list(Sample.objects.order_by("pk"))
    assert len(samples) == 1000
    excluded = django_pids()
    peaks: list[int] = []

    async def body() -> list[Any]:
        async with observer(excluded) as obs:
            done = asyncio.Event()
            watcher = asyncio.create_task(sample_peak(obs, done, peaks))
            async with asyncio.timeout(HANG):
                loaded = await asyncio.gather(*(s.R("kind") for s in samples))
                owners = await asyncio.gather(*(s.R("owner") for s in samples))
            done.set()
            await watcher
            peaks.append(len(await obs.native_pids()))
            await native.aclose()
            await obs.wait_until(lambda pids: pids == [])  # closed means closed on the server too
            return [loaded, owners]

    loaded, owners = run(body)
    for sample, kind, owner in zip(samples, loaded, owners, strict=True):
        assert kind.pk == sample.kind_id and sample._state.fields_cache["kind"] is kind
        assert owner.pk == sample.owner_id and sample._state.fields_cache["owner"] is owner
    assert max(peaks) <= 4, peaks
    assert max(peaks) >= 1, peaks  # the watcher did see the native connections


@override_settings(RELATIONS=native_settings(NATIVE_POOL_SIZE=4))
def test_a_thousand_concurrent_queries_on_the_driver_never_open_more_than_four(rows):
    """No coalescing below the driver: 1,000 separate queries queue for 4 connections."""
    samples = list(Sample.objects.order_by("pk"))
    excluded = django_pids()
    peaks: list[int] = []

    async def body() -> list[list[Any]]:
        async with observer(excluded) as obs:
            done = asyncio.Event()
            watcher = asyncio.create_task(sample_peak(obs, done, peaks))
            async with asyncio.timeout(HANG):
                results = await asyncio.gather(
                    *(native.execute(Fetch(Kind.objects.filter(pk=s.kind_id))) for s in samples)
                )
            done.set()
            await watcher
            peaks.append(len(await obs.native_pids()))  # the pool keeps what it grew to
            return results

    results = run(body)
    assert [[k.pk for k in found] for found in results] == [[s.kind_id] for s in samples]
    assert 2 <= max(peaks) <= 4, peaks  # the pool grew under load, and not beyond its size
