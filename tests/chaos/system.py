"""The whole system as child processes: two workers, the mirror, the projector and the API,
plus a handle to kill and restart the servers of its stack (Kafka, PostgreSQL, DynamoDB)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pipeline.settings import Settings
from pipeline.stack import broker, dynamodb_server, postgres
from pipeline.stack.ports import free_port
from pipeline.stack.process import ProcessRecord, is_alive, kill
from pipeline.stack.stack import read_state, up
from pipeline.system import Component
from pipeline.system import System as Components
from tests.support.auth import api_auth_env
from tests.support.processes import launcher
from tests.support.projector import ReadModel, projector

READY_TIMEOUT_S = 90.0
# Process types, in the order the fault table lists them.
WORKER, MIRROR, PROJECTOR, API = "worker", "mirror", "projector", "api"
BROKER, POSTGRES, DYNAMODB = "broker", "postgres", "dynamodb"
PROCESS_TYPES = (WORKER, MIRROR, PROJECTOR, API)
SERVER_TYPES = (BROKER, POSTGRES, DYNAMODB)
# The stack's names for them (stack.json).
STACK_NAMES = {BROKER: broker.NAME, POSTGRES: postgres.NAME, DYNAMODB: dynamodb_server.NAME}
# Snapshot rounds far more often than in production (20,000 events / 30 s), so that a round of
# some partition is nearly always being written: worker SIGKILLs land during rounds, restarts
# and takeovers restore from them, and check 9 holds every committed round to the journal.
SNAPSHOT_EVERY_EVENTS = 25
SNAPSHOT_INTERVAL_S = 0.2
WORKER_ENV = {
    "THREADWEAVER_WORKER_SNAPSHOTS": "true",
    "THREADWEAVER_WORKER_SNAPSHOT_EVERY_EVENTS": str(SNAPSHOT_EVERY_EVENTS),
    "THREADWEAVER_WORKER_SNAPSHOT_INTERVAL_S": str(SNAPSHOT_INTERVAL_S),
}


@dataclass
class System:
    settings: Settings
    read_model: ReadModel
    log_dir: Path
    api_port: int = field(default_factory=free_port)
    workers: list[Component] = field(init=False)
    mirror: Component = field(init=False)
    projector: Component = field(init=False)
    api: Component = field(init=False)
    # Started in this order, stopped in reverse: the workers last, so nothing is left
    # half-decided.
    running: Components = field(init=False)

    def __post_init__(self) -> None:
        workers = launcher(self.settings, self.log_dir, **WORKER_ENV)
        self.workers = [
            workers.worker(name, data_dir=self.log_dir / name, runtime="faust", metrics_port=0)
            for name in ("worker-0", "worker-1")
        ]
        self.mirror = launcher(self.settings, self.log_dir).mirror(metrics_port=0)
        self.projector = projector(self.read_model, self.log_dir)
        # The API reads the chaos run's own read model.
        self.api = launcher(self.read_model.settings, self.log_dir).api(
            port=self.api_port, env=api_auth_env()
        )
        self.running = Components([*self.workers, self.mirror, self.projector, self.api])

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def by_type(self) -> dict[str, list[Component]]:
        return {
            WORKER: self.workers,
            MIRROR: [self.mirror],
            PROJECTOR: [self.projector],
            API: [self.api],
        }

    def components(self) -> list[Component]:
        return self.running.components

    def start(self) -> None:
        self.running.start()
        self.api.wait_ready(READY_TIMEOUT_S)

    def stop(self) -> dict[str, int | None]:
        """SIGTERM everything: exit codes."""
        return self.running.stop()

    def log_tails(self, lines: int = 25) -> str:
        return self.running.log_tails(lines)


@dataclass
class StackServers:
    """The servers of a stack this test started itself: SIGKILL one, and bring it back the
    way a user would, with `threadweaver stack up` on the same data dir (the recovery path
    under test: it restarts only what died, on the same port and data)."""

    data_dir: Path

    def record(self, process_type: str) -> ProcessRecord:
        state = read_state(self.data_dir)
        assert state is not None, f"no stack in {self.data_dir}"
        name = STACK_NAMES[process_type]
        return next(p for p in state.processes if p.name == name)

    def pid(self, process_type: str) -> int:
        return self.record(process_type).pid

    def kill(self, process_type: str) -> None:
        record = self.record(process_type)
        kill(record)
        assert not is_alive(record), f"{record.name} survived SIGKILL"

    def restart(self) -> None:
        up(self.data_dir)
