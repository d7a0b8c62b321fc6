#!/usr/bin/env python
"""A loopback TCP proxy that adds a fixed delay to every chunk, in both directions.

    python benchmarks/delayproxy.py --target 127.0.0.1:5432    # prints "listening <port>"

It stands in for the network between an application and its database: a chunk read
from either side is written to the other side ``rtt / 2`` later, so a request and
its answer take ``rtt`` longer than on loopback.  Chunks keep their order, and each
direction holds at most ``--max-pending`` bytes in flight (it stops reading until the
writer catches up), so the proxy's memory is bounded whatever the traffic.

Control is a line protocol on stdin: a number sets the added round trip in
milliseconds for every chunk read from then on (``1``, ``0.5``, ``0``) and is
answered ``ok <ms>`` on stdout; end of input stops the proxy.  It listens on
127.0.0.1 only and connects only to the ``--target`` it was given.

The benchmarks run it as a process of its own (``DelayProxy`` below), so its
work is not charged to the CPU time of the process being measured, and the
application's CPU-bound moments do not hold up its deliveries.
"""

from __future__ import annotations

import argparse
import asyncio
import selectors
import subprocess
import sys
import time
from collections import deque
from pathlib import Path

CHUNK = 65_536
MAX_PENDING = 4 * 1024 * 1024


class Direction:
    """One direction of one connection: read, hold each chunk until its time, write."""

    def __init__(self, state: dict[str, float], max_pending: int) -> None:
        self.state = state
        self.queue: deque[tuple[float, bytes]] = deque()
        self.pending = 0
        self.max_pending = max_pending
        self.arrived = asyncio.Event()
        self.drained = asyncio.Event()
        self.eof = False

    async def read(self, reader: asyncio.StreamReader) -> None:
        try:
            while data := await reader.read(CHUNK):
                while self.pending >= self.max_pending:
                    self.drained.clear()
                    await self.drained.wait()
                self.queue.append((time.monotonic() + self.state["half"], data))
                self.pending += len(data)
                self.arrived.set()
        finally:  # end of input or a reset: the writer delivers what it holds, then closes
            self.eof = True
            self.arrived.set()

    async def write(self, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                while not self.queue:
                    if self.eof:
                        return
                    self.arrived.clear()
                    await self.arrived.wait()
                due, data = self.queue.popleft()
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                writer.write(data)
                await writer.drain()
                self.pending -= len(data)
                self.drained.set()
        finally:
            writer.close()


async def serve(target_host: str, target_port: int, max_pending: int) -> None:
    state = {"half": 0.0}
    connections: set[asyncio.Task[None]] = set()

    async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(target_host, target_port)
        except OSError:
            client_writer.close()
            return
        up, down = Direction(state, max_pending), Direction(state, max_pending)
        parts = [
            up.read(client_reader),
            up.write(server_writer),
            down.read(server_reader),
            down.write(client_writer),
        ]
        await asyncio.gather(*parts, return_exceptions=True)

    def track(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.ensure_future(handle(reader, writer))
        connections.add(task)
        task.add_done_callback(connections.discard)

    server = await asyncio.start_server(track, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print(f"listening {port}", flush=True)
    loop = asyncio.get_running_loop()
    control = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(control), sys.stdin)
    while line := await control.readline():
        try:
            ms = float(line)
        except ValueError:
            print(f"error {line.decode(errors='replace').strip()!r} is not a number", flush=True)
            continue
        if not 0 <= ms <= 1000:
            print(f"error {ms} ms is outside 0-1000", flush=True)
            continue
        state["half"] = ms / 2000
        print(f"ok {ms:g}", flush=True)
    server.close()
    for task in connections:
        task.cancel()
    await asyncio.gather(*connections, return_exceptions=True)


class DelayProxy:
    """The proxy as a child process: ``with DelayProxy("127.0.0.1", 5432) as proxy: proxy.port``."""

    def __init__(self, host: str, port: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--target", f"{host}:{port}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        first = self.process.stdout.readline().split()
        if first[:1] != ["listening"]:
            self.close()
            raise RuntimeError(f"the delay proxy did not start: {first}")
        self.port = int(first[1])

    def set_rtt(self, ms: float) -> None:
        """Add ``ms`` milliseconds to each round trip from now on."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(f"{ms}\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline().strip()
        if answer != f"ok {ms:g}":
            raise RuntimeError(f"the delay proxy answered {answer!r} to {ms}")

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> DelayProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--target", required=True, help="HOST:PORT to forward to")
    parser.add_argument("--max-pending", type=int, default=MAX_PENDING, help="bytes in flight per direction")
    args = parser.parse_args()
    host, _, port = args.target.rpartition(":")
    # select() takes its timeout in microseconds; epoll and poll round it up to whole
    # milliseconds, which would turn a 0.25 ms delay into more than 1 ms.
    loop = asyncio.SelectorEventLoop(selectors.SelectSelector())
    try:
        loop.run_until_complete(serve(host, int(port), args.max_pending))
    finally:
        loop.close()


if __name__ == "__main__":
    main()
