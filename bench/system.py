"""The system under test: a fresh embedded stack in a temporary directory, and the components
(workers, projector, mirror, API) started on it as real processes, as `make run` would."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import stat
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from bench.auth import api_auth_env
from bench.config import BenchConfig
from bench.processes import Process, component
from pipeline.settings import Settings
from pipeline.stack import Endpoints, down, read_state, up
from pipeline.stack.ports import free_port
from pipeline.stack.process import is_alive


def _let_postgres_in(path: Path) -> None:
    """PostgreSQL runs as an unprivileged account when we are root: it needs search (not read)
    permission on the directories above its data dir; mkdtemp makes them 0700."""
    if os.geteuid() != 0:
        return
    for directory in (path, *path.parents):
        mode = directory.stat().st_mode
        if not mode & stat.S_IXOTH:
            directory.chmod(mode | stat.S_IXOTH)
        if directory == Path(tempfile.gettempdir()):
            break


@dataclass
class System:
    config: BenchConfig
    root: Path
    endpoints: Endpoints
    workers: list[Process] = field(default_factory=list)
    projector: Process | None = None
    api: Process | None = None
    api_url: str = ""
    _run: int = 0

    @classmethod
    def start(cls, config: BenchConfig) -> System:
        root = Path(tempfile.mkdtemp(prefix="threadweaver-bench-"))
        _let_postgres_in(root)
        result = up(root / "stack", partitions=config.partitions)
        return cls(config, root, result.state.endpoints)

    @property
    def settings(self) -> Settings:
        return self.endpoints.settings()

    @property
    def bootstrap(self) -> str:
        return self.endpoints.bootstrap_servers

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.endpoints.env())
        env.update(extra)
        return env

    def next_id(self) -> int:
        self._run += 1
        return self._run

    # --- workers ---------------------------------------------------------------------------

    def start_workers(
        self,
        count: int,
        runtime: str,
        group_id: str,
        *,
        fresh: bool = False,
        extra_env: dict[str, str] | None = None,
    ) -> list[Process]:
        """`count` workers of one group. Slot i keeps its RocksDB directory across runs unless
        `fresh`, so a run only folds the journal written since the slot's last run."""
        started = []
        for slot in range(count):
            data_dir = (
                self.root / "workers" / (f"fresh-{self.next_id()}" if fresh else f"slot-{slot}")
            )
            worker = component(
                f"worker-{runtime}-{slot}-{self.next_id()}",
                ["worker"],
                self.env(
                    THREADWEAVER_WORKER_DATA_DIR=str(data_dir),
                    THREADWEAVER_WORKER_METRICS_PORT=str(free_port()),
                    THREADWEAVER_WORKER_RUNTIME=runtime,
                    THREADWEAVER_WORKER_GROUP_ID=group_id,
                    **(extra_env or {}),
                ),
                self.logs,
            )
            started.append(worker.start())
        self.workers.extend(started)
        return started

    def stop_workers(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.workers.clear()

    # --- projector and API -----------------------------------------------------------------

    def start_projector(self) -> Process:
        if self.projector is None or not self.projector.alive():
            self.projector = component(
                "projector",
                ["projector"],
                self.env(THREADWEAVER_PROJECTOR_METRICS_PORT=str(free_port())),
                self.logs,
            ).start()
        return self.projector

    def stop_projector(self) -> None:
        if self.projector is not None:
            self.projector.stop()
            self.projector = None

    def start_api(self) -> str:
        if self.api is not None and self.api.alive():
            return self.api_url
        port = free_port()
        self.api = component(
            "api",
            ["api", "--port", str(port), "--workers", str(self.config.api_workers)],
            self.env(**api_auth_env()),
            self.logs,
        ).start()
        self.api_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{self.api_url}/readyz", timeout=2) as answer:
                    if answer.status == 200:
                        return self.api_url
            except OSError:
                pass
            if not self.api.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the API did not become ready:\n{self.api.tail()}")
            time.sleep(0.2)

    def stop_api(self) -> None:
        if self.api is not None:
            self.api.stop()
            self.api = None

    def _kill_moto(self) -> None:
        """moto saves a snapshot of every item when asked to stop (minutes after the mirror
        phase); the bench's data is thrown away anyway, so it is killed instead."""
        state = read_state(self.root / "stack")
        for record in state.processes if state is not None else ():
            if record.name == "moto" and is_alive(record):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(record.pid, signal.SIGKILL)

    def stop(self) -> None:
        self.stop_workers()
        self.stop_projector()
        self.stop_api()
        self._kill_moto()
        down(self.root / "stack")
        if not self.config.keep_data:
            shutil.rmtree(self.root, ignore_errors=True)
