"""Command -> visible in the query API, for sampled commands of the load generator.

Once the reply of a sampled command says version V, a tight loop GETs the thread (as its
administrator, with a bearer token) every `interval_s` until the API shows version >= V. The
latency runs from the command's scheduled send time to the answer that showed it, so it is
exact to within one poll interval plus one GET.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass, field

from bench.auth import bearer
from bench.httpclient import HttpConnection


@dataclass(frozen=True, slots=True)
class Sample:
    thread_id: str
    version: int
    account_id: str
    scheduled: float  # time.perf_counter()


@dataclass
class VisibilityResult:
    latencies_s: list[float] = field(default_factory=list)
    missing: int = 0
    polls: int = 0
    errors: int = 0


class VisibilityPoller:
    def __init__(
        self,
        api_url: str,
        *,
        connections: int = 16,
        interval_s: float = 0.005,
        timeout_s: float = 5.0,
    ) -> None:
        self._url = api_url
        self._connections = connections
        self._interval = interval_s
        self._timeout = timeout_s
        self.result = VisibilityResult()
        self._tokens: dict[str, str] = {}
        self._loop = asyncio.new_event_loop()
        self._queue: asyncio.Queue[Sample | None] | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="visibility", daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(10)

    def submit(self, sample: Sample) -> None:
        """Thread-safe: called by the reply listener."""
        assert self._queue is not None
        self._loop.call_soon_threadsafe(self._queue.put_nowait, sample)

    def close(self, drain_s: float = 10.0) -> VisibilityResult:
        """Finish the samples submitted so far (each within its own timeout), then stop."""
        assert self._queue is not None
        for _ in range(self._connections):
            self._loop.call_soon_threadsafe(self._queue.put_nowait, None)
        self._thread.join(drain_s + self._timeout)
        return self.result

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._main())

    async def _main(self) -> None:
        self._queue = asyncio.Queue()
        self._ready.set()
        await asyncio.gather(*(self._worker() for _ in range(self._connections)))

    def _token(self, account_id: str) -> str:
        token = self._tokens.get(account_id)
        if token is None:
            token = self._tokens[account_id] = bearer(account_id)
        return token

    async def _worker(self) -> None:
        assert self._queue is not None
        connection = HttpConnection(self._url)
        try:
            while (sample := await self._queue.get()) is not None:
                await self._follow(connection, sample)
        finally:
            await connection.close()

    async def _follow(self, connection: HttpConnection, sample: Sample) -> None:
        path = f"/v1/threads/{sample.thread_id}?account_id={sample.account_id}"
        headers = {"Authorization": self._token(sample.account_id)}
        deadline = time.perf_counter() + self._timeout
        while time.perf_counter() < deadline:
            self.result.polls += 1
            try:
                status, body = await connection.get(path, headers)
            except (OSError, asyncio.IncompleteReadError):
                self.result.errors += 1
                await asyncio.sleep(self._interval)
                continue
            seen = time.perf_counter()
            if status == 200 and json.loads(body)["thread"]["version"] >= sample.version:
                self.result.latencies_s.append(seen - sample.scheduled)
                return
            await asyncio.sleep(self._interval)
        self.result.missing += 1
