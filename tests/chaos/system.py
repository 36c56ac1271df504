"""The whole system as child processes: two workers, the mirror, the projector and the API,
plus a handle to kill and restart the servers of its stack (Kafka, PostgreSQL, DynamoDB)."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from pipeline.settings import Settings
from pipeline.stack import broker, dynamodb_server, postgres
from pipeline.stack.ports import free_port
from pipeline.stack.process import ProcessRecord, is_alive
from pipeline.stack.stack import read_state, up
from tests.support.auth import api_auth_env
from tests.support.processes import Component, worker
from tests.support.projector import ReadModel, projector

READY_TIMEOUT_S = 90.0
# Process types, in the order the fault table lists them.
WORKER, MIRROR, PROJECTOR, API = "worker", "mirror", "projector", "api"
BROKER, POSTGRES, DYNAMODB = "broker", "postgres", "dynamodb"
PROCESS_TYPES = (WORKER, MIRROR, PROJECTOR, API)
SERVER_TYPES = (BROKER, POSTGRES, DYNAMODB)
# The stack's names for them (stack.json).
STACK_NAMES = {BROKER: broker.NAME, POSTGRES: postgres.NAME, DYNAMODB: dynamodb_server.NAME}


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

    def __post_init__(self) -> None:
        self.workers = [worker(self.settings, self.log_dir, f"worker-{i}") for i in range(2)]
        self.mirror = Component(
            "mirror",
            ["mirror"],
            self.settings,
            self.log_dir,
            THREADWEAVER_MIRROR_METRICS_PORT="0",
        )
        self.projector = projector(self.read_model, self.log_dir)
        self.api = Component(
            "api",
            ["api", "--port", str(self.api_port)],
            self.read_model.settings,  # reads the chaos run's own read model
            self.log_dir,
            **api_auth_env(),
        )

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
        return [c for group in self.by_type().values() for c in group]

    def start(self) -> None:
        for component in self.components():
            component.start()
        self.wait_api_ready()

    def wait_api_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            try:
                if httpx.get(f"{self.api_url}/readyz", timeout=5.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert self.api.alive(), "the API died at start:\n" + self.api.log_tail()
            assert time.monotonic() < deadline, "the API is not ready:\n" + self.api.log_tail()
            time.sleep(0.2)

    def stop(self) -> dict[str, int | None]:
        """SIGTERM everything (workers last, so nothing is left half-decided): exit codes."""
        order = [self.api, self.projector, self.mirror, *self.workers]
        return {component.name: component.stop() for component in order}

    def log_tails(self, lines: int = 25) -> str:
        return "\n".join(
            f"--- {c.name} ({c.log_path})\n{c.log_tail(lines)}" for c in self.components()
        )


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
        os.killpg(record.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while is_alive(record):
            assert time.monotonic() < deadline, f"{record.name} survived SIGKILL"
            time.sleep(0.05)

    def restart(self) -> None:
        up(self.data_dir)
