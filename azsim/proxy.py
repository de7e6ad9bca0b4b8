"""A loopback TCP forwarder with a switchable hostile mode, for tests of a service that breaks mid-run.

Put it in front of a local server (Azurite, the simulator) and point the client at `proxy.port`;
then switch `mode` at any time, for new and open connections alike:

- `pass`: bytes are forwarded both ways;
- `reset`: a connection is reset (TCP RST) when it next carries data, a new one as it is accepted;
- `hang`: data is swallowed, nothing answers, the connection is reset after `hang_seconds`;
- `trickle`: data is forwarded one byte every `trickle_seconds`.

Bounded: it listens and connects on loopback only, accepts at most `max_connections`, and every
hang ends. It runs its own event loop in a daemon thread, so synchronous tests can use it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from enum import StrEnum
from types import TracebackType

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


class Mode(StrEnum):
    PASS = "pass"
    RESET = "reset"
    HANG = "hang"
    TRICKLE = "trickle"


class TcpProxy:
    """`with TcpProxy(port) as proxy:` forwards 127.0.0.1:proxy.port to 127.0.0.1:port."""

    def __init__(
        self,
        target_port: int,
        target_host: str = "127.0.0.1",
        *,
        hang_seconds: float = 30.0,
        trickle_seconds: float = 0.05,
        max_connections: int = 256,
    ) -> None:
        if target_host not in LOOPBACK:
            raise ValueError(f"the proxy forwards to loopback only, not {target_host}")
        self.target = (target_host, target_port)
        self.mode = Mode.PASS
        self.hang_seconds = hang_seconds
        self.trickle_seconds = trickle_seconds
        self.max_connections = max_connections
        self.connections = 0  # accepted so far
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="azsim-proxy", daemon=True)
        self._server: asyncio.Server | None = None

    def start(self) -> TcpProxy:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(asyncio.start_server(self._accept, "127.0.0.1", 0), self._loop)
        self._server = future.result(timeout=10)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    def stop(self) -> None:
        async def close() -> None:
            if self._server is not None:
                self._server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self.connections > self.max_connections or self.mode is Mode.RESET:
            _reset(writer)
            return
        try:
            upstream_reader, upstream_writer = await asyncio.wait_for(asyncio.open_connection(*self.target), 5)
        except (OSError, TimeoutError):
            _reset(writer)
            return
        pair = (writer, upstream_writer)
        await asyncio.gather(self._pump(reader, upstream_writer, pair), self._pump(upstream_reader, writer, pair))

    async def _pump(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, pair: tuple[asyncio.StreamWriter, ...]
    ) -> None:
        try:
            while data := await source.read(65536):
                if self.mode is Mode.HANG:
                    await asyncio.sleep(self.hang_seconds)
                if self.mode in {Mode.RESET, Mode.HANG}:
                    break
                if self.mode is Mode.TRICKLE:
                    for index in range(len(data)):
                        sink.write(data[index : index + 1])
                        await sink.drain()
                        await asyncio.sleep(self.trickle_seconds)
                else:
                    sink.write(data)
                    await sink.drain()
            else:
                with contextlib.suppress(OSError):
                    sink.write_eof()
                return
        except (OSError, asyncio.IncompleteReadError):
            pass
        for writer in pair:
            _reset(writer)


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST (SO_LINGER 0), as a dying load balancer or host does."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
