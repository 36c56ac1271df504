"""The whole system as child processes: two workers, the mirror, the projector and the API,
plus (on a stack whose broker is durable) a handle to kill and restart the broker."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from pipeline.settings import Settings
from pipeline.stack import broker as tansu
from pipeline.stack.layout import Layout
from pipeline.stack.ports import free_port
from pipeline.stack.process import ProcessRecord, is_alive, spawn
from pipeline.stack.stack import read_state
from tests.support.auth import api_auth_env
from tests.support.processes import Component, worker
from tests.support.projector import ReadModel, projector

READY_TIMEOUT_S = 90.0
# Process types, in the order the fault table lists them.
WORKER, MIRROR, PROJECTOR, API, BROKER = "worker", "mirror", "projector", "api", "broker"
PROCESS_TYPES = (WORKER, MIRROR, PROJECTOR, API)


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
class Broker:
    """The embedded stack's tansu, for a stack this test started itself (durable storage):
    SIGKILL it and start it again on the same port with the same storage."""

    data_dir: Path
    record: ProcessRecord = field(init=False)

    def __post_init__(self) -> None:
        state = read_state(self.data_dir)
        assert state is not None, f"no stack in {self.data_dir}"
        self.record = next(p for p in state.processes if p.name == tansu.NAME)

    @property
    def pid(self) -> int:
        return self.record.pid

    def kill(self) -> None:
        os.killpg(self.record.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while is_alive(self.record):
            assert time.monotonic() < deadline, "tansu survived SIGKILL"
            time.sleep(0.05)

    def start(self) -> None:
        state = read_state(self.data_dir)
        assert state is not None
        endpoints = state.endpoints
        layout = Layout.of(self.data_dir)
        spec = tansu.spec(
            layout,
            state.ports[tansu.NAME],
            endpoints.broker_storage,
            endpoints.dynamodb_endpoint,  # moto serves S3 and DynamoDB on one endpoint
            endpoints.aws_region,
        )
        self.record = spawn(spec, layout.run)
        tansu.wait_ready(endpoints.bootstrap_servers, READY_TIMEOUT_S, self.record)
