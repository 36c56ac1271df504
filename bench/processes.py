"""Child processes of a bench run: the system's components and the bench's own load processes.

Each runs in its own session with its output in a log file; `stop` signals only that
process group, so nothing else on the machine is touched.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.config import ROOT

THREADWEAVER = (sys.executable, "-m", "pipeline.cli.main")


class Process:
    def __init__(
        self, name: str, argv: Sequence[str], env: Mapping[str, str], log_dir: Path
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = dict(env)
        self.log_path = log_dir / f"{name}.log"
        self._popen: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0

    @property
    def pid(self) -> int:
        assert self._popen is not None, f"{self.name} was not started"
        return self._popen.pid

    def start(self) -> Process:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"=== {time.strftime('%H:%M:%S')} {' '.join(self.argv)}\n".encode())
            log.flush()
            self.started_at = time.time()
            self._popen = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def alive(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    def wait(self, timeout: float) -> int:
        assert self._popen is not None
        try:
            return self._popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise RuntimeError(f"{self.name} did not finish within {timeout:.0f} s") from None

    def stop(self, timeout: float = 30.0) -> int | None:
        if self._popen is None:
            return None
        if self._popen.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self._popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self._popen.wait(10)
        return self._popen.returncode

    def _signal(self, sig: signal.Signals) -> None:
        assert self._popen is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._popen.pid, sig)

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""


def component(name: str, args: Sequence[str], env: Mapping[str, str], log_dir: Path) -> Process:
    """`threadweaver <args>` (a worker, the projector, the mirror, the API)."""
    return Process(name, [*THREADWEAVER, *args], env, log_dir)


def run_child(
    module: str,
    args: Sequence[str],
    env: Mapping[str, str],
    log_dir: Path,
    *,
    name: str | None = None,
    timeout: float = 3600.0,
) -> dict[str, Any]:
    """Run `python -m <module> ... --out FILE` to completion and return the JSON it wrote."""
    child = start_child(module, args, env, log_dir, name=name)
    return finish_child(child, timeout)


def start_child(
    module: str,
    args: Sequence[str],
    env: Mapping[str, str],
    log_dir: Path,
    *,
    name: str | None = None,
) -> Process:
    label = name or module.rsplit(".", 1)[-1]
    out = log_dir / f"{label}-{time.monotonic_ns()}.json"
    child = Process(label, [sys.executable, "-m", module, *args, "--out", str(out)], env, log_dir)
    child.env["PYTHONPATH"] = str(ROOT)
    return child.start()


def finish_child(child: Process, timeout: float = 3600.0) -> dict[str, Any]:
    code = child.wait(timeout)
    out = Path(child.argv[child.argv.index("--out") + 1])
    if code != 0 or not out.exists():
        raise RuntimeError(f"{child.name} exited with {code}:\n{child.tail()}")
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def write_result(path: str, result: Mapping[str, Any]) -> None:
    """What a child process hands back to the bench (see `run_child`)."""
    Path(path).write_text(json.dumps(result, default=str))


def flags(**values: object) -> list[str]:
    """Command-line flags: flags(ready_timeout=5) == ["--ready-timeout", "5"]."""
    return [
        item
        for name, value in values.items()
        for item in (f"--{name.replace('_', '-')}", str(value))
    ]
