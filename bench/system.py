"""The system under test: a fresh embedded stack in a temporary directory, and the components
(workers, projector, mirror, API) started on it as real processes, as `make run` would."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from bench.auth import api_auth_env
from bench.config import ROOT, BenchConfig
from pipeline.kafka.offsets import end_offsets
from pipeline.settings import Settings
from pipeline.stack import Endpoints, down, up
from pipeline.stack.ports import free_port
from pipeline.system import Component, Launcher

API_READY_TIMEOUT_S = 60.0


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
    workers: list[Component] = field(default_factory=list)
    projector: Component | None = None
    api: Component | None = None
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

    @property
    def launcher(self) -> Launcher:
        """The components and the bench's own processes, on this run's stack."""
        return Launcher(self.env(), self.logs, cwd=ROOT)

    def records(self, topic: str) -> int:
        """How many records `topic` holds: the sum of its partitions' end offsets."""
        ends = end_offsets(self.settings.kafka, topic, range(self.config.partitions))
        return sum(ends.values())

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
    ) -> list[Component]:
        """`count` workers of one group. Slot i keeps its RocksDB directory across runs unless
        `fresh`, so a run only folds the journal written since the slot's last run."""
        started = []
        for slot in range(count):
            data_dir = (
                self.root / "workers" / (f"fresh-{self.next_id()}" if fresh else f"slot-{slot}")
            )
            worker = self.launcher.worker(
                f"worker-{runtime}-{slot}-{self.next_id()}",
                data_dir=data_dir,
                runtime=runtime,
                metrics_port=free_port(),
                env={"THREADWEAVER_WORKER_GROUP_ID": group_id, **(extra_env or {})},
            )
            started.append(worker.start())
        self.workers.extend(started)
        return started

    def stop_workers(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.workers.clear()

    # --- projector and API -----------------------------------------------------------------

    def start_projector(self) -> Component:
        if self.projector is None or not self.projector.alive():
            self.projector = self.launcher.projector(metrics_port=free_port()).start()
        return self.projector

    def stop_projector(self) -> None:
        if self.projector is not None:
            self.projector.stop()
            self.projector = None

    def start_api(self) -> str:
        if self.api is not None and self.api.alive():
            return self.api_url
        port = free_port()
        self.api = self.launcher.api(
            port=port, workers=self.config.api_workers, env=api_auth_env()
        ).start()
        self.api_url = f"http://127.0.0.1:{port}"
        self.api.wait_ready(API_READY_TIMEOUT_S)
        return self.api_url

    def stop_api(self) -> None:
        if self.api is not None:
            self.api.stop()
            self.api = None

    def stop(self) -> None:
        self.stop_workers()
        self.stop_projector()
        self.stop_api()
        down(self.root / "stack")
        if not self.config.keep_data:
            shutil.rmtree(self.root, ignore_errors=True)
