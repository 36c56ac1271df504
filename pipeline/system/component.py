"""One child process of a running system, with its own log file: start, stop, kill, restart,
wait until it is ready or has finished, read its log.

The processes run in sessions of their own (`pipeline/stack/process.py`), so a signal sent to
one reaches its whole process group and nothing else, and Ctrl-C in a terminal reaches only
the command that started them.
"""

from __future__ import annotations

import shutil
import sys
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from pipeline.stack import process
from pipeline.stack.process import ProcessRecord, ProcessSpec

# True once a running component serves what it is for.
Probe = Callable[[], bool]
READY_POLL_S = 0.2


def threadweaver_command() -> list[str]:
    """How to start `threadweaver` as a child: the console script beside our interpreter."""
    script = Path(sys.executable).parent / "threadweaver"
    if script.exists():
        return [str(script)]
    found = shutil.which("threadweaver")
    return [found] if found else [sys.executable, "-m", "pipeline.cli.main"]


def http_ok(url: str, timeout: float = 2.0) -> Probe:
    """Ready once `url` answers 200: the API's /readyz, a component's metrics endpoint."""

    def probe() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as answer:
                return bool(answer.status == 200)
        except (OSError, ValueError):
            return False

    return probe


class ComponentError(RuntimeError):
    """A component died, or was not ready or finished in time; the message ends with its log."""


class Component:
    """`argv` as a restartable child process whose output goes to `log_path`.

    `pid_dir`: where its pid file goes, for another process (`stack down`) to stop it.
    `ready`: how to tell it serves; without one, running is ready. `data_dir`: its local
    state, if it keeps any (a worker's RocksDB store).
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        log_path: Path,
        pid_dir: Path | None = None,
        cwd: Path | None = None,
        ready: Probe | None = None,
        data_dir: Path | None = None,
        stop_timeout: float = 30.0,
    ) -> None:
        self.name = name
        self.log_path = log_path
        self.data_dir = data_dir
        # What every start runs, with `env` as it is at that start (a test may add to it).
        self.spec = ProcessSpec(
            name=name, argv=tuple(argv), log_path=log_path, cwd=cwd, stop_timeout=stop_timeout
        )
        self.env = dict(env)
        self._pid_dir = pid_dir
        self._ready = ready
        self._record: ProcessRecord | None = None
        self._log_offset = 0
        self.starts = 0
        self.started_at = 0.0  # time.time() of the latest start

    @property
    def argv(self) -> tuple[str, ...]:
        return self.spec.argv

    def __repr__(self) -> str:
        return f"Component({self.name!r}, pid={self.pid}, alive={self.alive()})"

    def start(self) -> Component:
        if self.alive():
            raise ComponentError(f"{self.name} is already running (pid {self.pid})")
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.starts += 1
        self.started_at = time.time()
        self._record = process.spawn(replace(self.spec, env=self.env), self._pid_dir)
        return self

    def alive(self) -> bool:
        return self._record is not None and process.is_alive(self._record)

    @property
    def pid(self) -> int | None:
        """The process of the latest start (its process group has the same id)."""
        return None if self._record is None else self._record.pid

    @property
    def exit_code(self) -> int | None:
        """How the latest start ended; None while it runs (or before any start)."""
        return None if self._record is None else process.exit_code(self._record)

    def stop(self, timeout: float | None = None) -> int | None:
        """SIGTERM, and SIGKILL if it still runs after `timeout` s: how it ended."""
        if self._record is None:
            return None
        record = self._record
        if timeout is not None:
            record = replace(record, stop_timeout=timeout)
        process.stop(record, self._pid_dir)
        return self.exit_code

    def kill(self) -> None:
        """SIGKILL: no cleanup, no flush, no goodbye to the consumer group."""
        if self._record is not None:
            process.kill(self._record, self._pid_dir)

    def restart(self, timeout: float | None = None) -> Component:
        self.stop(timeout)
        return self.start()

    def wait(self, timeout: float) -> int:
        """Until it exits by itself: its exit code. One still running after `timeout` s is
        stopped, and that is a ComponentError."""
        if self._record is None:
            raise ComponentError(f"{self.name} was not started")
        if not process.wait_dead(self._record, timeout):
            self.stop()
            raise ComponentError(self.failure(f"did not finish within {timeout:g} s"))
        self.stop()  # reaps it; leftovers of its process group go too
        code = self.exit_code
        assert code is not None
        return code

    def wait_ready(self, timeout: float) -> None:
        """Until its probe says ready; ComponentError if it exits first or `timeout` passes."""
        deadline = time.monotonic() + timeout
        while True:
            if not self.alive():
                raise ComponentError(self.failure(f"exited ({self.exit_code}) before ready"))
            if self._ready is None or self._ready():
                return
            if time.monotonic() >= deadline:
                raise ComponentError(self.failure(f"not ready within {timeout:g} s"))
            time.sleep(READY_POLL_S)

    def log_tail(self, lines: int = 40) -> str:
        return process.tail(self.log_path, lines)

    def run_log(self) -> bytes:
        """What the latest start has written to the log so far."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(self._log_offset)
                return log.read()
        except FileNotFoundError:
            return b""

    def failure(self, what: str) -> str:
        return f"{self.name} (pid {self.pid}) {what}; {self.log_path}:\n{self.log_tail()}"
