"""A Kafka broker behind mutual TLS, for tests: tansu (plain TCP only) advertising the address
of a TLS terminator that, like Strimzi's `tls` listener with `authentication: tls`, accepts only
clients presenting a certificate of the given CA, and remembers who they were."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.stack import broker
from pipeline.stack.motoserver import server_env
from pipeline.stack.ports import LOOPBACK, accepts_connections, free_port
from pipeline.stack.readiness import wait_until_answers
from tests.support.certificates import Issued


@dataclass
class TlsTerminator:
    """Mutual TLS on `port`, plain TCP to `upstream`; `principals` are the client certificates'
    common names, in the order the handshakes completed."""

    server: Issued
    ca_file: Path
    upstream: int
    port: int = field(default_factory=free_port)
    principals: list[str] = field(default_factory=list)
    _loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    _thread: threading.Thread | None = None

    def _context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(self.ca_file))
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_cert_chain(self.server.certificate, self.server.key)
        return context

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65_536):
                writer.write(data)
                await writer.drain()
        with contextlib.suppress(ConnectionError, OSError):
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peercert") or {}
        for rdn in peer.get("subject", ()):
            self.principals.extend(value for key, value in rdn if key == "commonName")
        up_reader, up_writer = await asyncio.open_connection(LOOPBACK, self.upstream)
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    def start(self) -> None:
        started = threading.Event()

        async def serve() -> None:
            await asyncio.start_server(self._handle, LOOPBACK, self.port, ssl=self._context())
            started.set()

        def run() -> None:
            self._loop.run_until_complete(serve())
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="tls-terminator", daemon=True)
        self._thread.start()
        assert started.wait(10), "the TLS terminator did not start"

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(5)


@contextlib.contextmanager
def tls_broker(server: Issued, ca_file: Path, log: Path) -> Iterator[TlsTerminator]:
    """A fresh in-memory tansu reachable only through a mutual-TLS terminator."""
    upstream = free_port()
    terminator = TlsTerminator(server, ca_file, upstream)
    env = server_env()
    for name in ("LISTENER_URL", "ADVERTISED_LISTENER_URL", "STORAGE_ENGINE", "CLUSTER_ID"):
        env.pop(name, None)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                str(broker.binary()),
                "broker",
                "--listener-url",
                f"tcp://{LOOPBACK}:{upstream}",
                # Clients are sent to the terminator, never to the plain port.
                "--advertised-listener-url",
                f"tcp://{LOOPBACK}:{terminator.port}",
                "--storage-engine",
                broker.MEMORY_STORAGE,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    try:

        def listening() -> None:
            if process.poll() is not None:
                raise RuntimeError(f"tansu exited with {process.returncode}: {log.read_text()}")
            if not accepts_connections(upstream, LOOPBACK):
                raise ConnectionRefusedError(f"tansu does not listen on {upstream} yet")

        wait_until_answers("tansu behind TLS", listening, timeout=30)
        terminator.start()
        yield terminator
    finally:
        terminator.stop()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
