"""Run the project's components as real child processes for integration and e2e tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from pipeline.settings import Settings

THREADWEAVER = [sys.executable, "-m", "pipeline.cli.main"]


def component_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(settings.to_env())
    env.setdefault("AWS_ACCESS_KEY_ID", "testing")
    env.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    # A SIGKILLed member keeps its partitions until its session expires, and the kill tests
    # wait for that: the broker's least (group.min.session.timeout.ms, 6 s by default).
    env["THREADWEAVER_KAFKA_SESSION_TIMEOUT_S"] = "6"
    env.update(extra)
    return env


class Component:
    """One `threadweaver <name>` process, restartable, with its output in a log file."""

    def __init__(
        self, name: str, args: list[str], settings: Settings, log_dir: Path, **env: str
    ) -> None:
        self.name = name
        self._args = args
        self.env = component_env(settings, **env)
        self._log_dir = log_dir
        self._proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.data_dir = log_dir

    @property
    def log_path(self) -> Path:
        return self._log_dir / f"{self.name}.log"

    def start(self) -> None:
        assert self._proc is None or self._proc.poll() is not None, "already running"
        self._log_dir.mkdir(parents=True, exist_ok=True)
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"=== start {self.starts} at {time.time():.3f}\n".encode())
            self._proc = subprocess.Popen(
                [*THREADWEAVER, *self._args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """The process of the latest start (its process group has the same id)."""
        return None if self._proc is None else self._proc.pid

    @property
    def exit_code(self) -> int | None:
        """How the latest start ended; None while it runs (or before any start)."""
        return None if self._proc is None else self._proc.poll()

    def kill(self) -> None:
        """SIGKILL: no cleanup, no flush, no goodbye to the consumer group."""
        if self._proc is not None and self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait(10)

    def stop(self, timeout: float = 30.0) -> int | None:
        if self._proc is None:
            return None
        if self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGTERM)
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait(10)
        return self._proc.returncode

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""


def worker(
    settings: Settings, data_dir: Path, name: str = "worker", runtime: str = "faust"
) -> Component:
    component = Component(
        name,
        ["worker"],
        settings,
        data_dir,
        THREADWEAVER_WORKER_DATA_DIR=str(data_dir / name),
        THREADWEAVER_WORKER_METRICS_PORT="0",
        THREADWEAVER_WORKER_RUNTIME=runtime,
    )
    component.data_dir = data_dir / name
    return component
