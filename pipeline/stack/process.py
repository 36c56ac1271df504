"""Detached server processes: spawn, check, stop, kill.

Each server runs in its own session (so Ctrl-C in a terminal, or the exit of the command that
started it, does not reach it) and logs to a file. What was started is written to a pid file the
moment it exists, so a start that fails half-way can still be cleaned up, and `stack down` in
another process knows exactly what to stop. A pid alone is not an identity (pids are reused), so
the kernel's start time of the process is recorded with it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

# Popen objects of the servers this process started. Keeping them referenced lets `is_alive`
# reap an exited child (otherwise it lingers as a zombie that `kill(pid, 0)` calls alive) and
# spares the "subprocess still running" warning for servers that are meant to outlive us.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}
# How the children stopped here ended, by (pid, start ticks): a caller may ask after the stop.
_EXITED: dict[tuple[int, int | None], int | None] = {}

_HAVE_PROC = Path("/proc/self/stat").exists()


@dataclass(frozen=True, slots=True)
class RunAs:
    """An unprivileged identity a server must run as (PostgreSQL refuses to run as root).

    `namespaced`: the server runs in a user namespace of its own where it is `uid`/`gid`,
    mapped to our own (root) identity outside. It then believes it is not root while its
    files stay ours and reachable wherever we can reach them (a clone inside a 0700 /root).
    Otherwise it really switches to the account, which must be able to reach its files.
    """

    user: str
    uid: int
    gid: int
    namespaced: bool = False

    def wrap(self, argv: Sequence[str]) -> list[str]:
        if not self.namespaced:
            return list(argv)
        # unshare execs the server: the pid we record is the server's own.
        return [
            "unshare",
            "--user",
            f"--map-user={self.uid}",
            f"--map-group={self.gid}",
            "--",
            *argv,
        ]

    def popen_identity(self) -> dict[str, Any]:
        """The subprocess keywords that switch the account (none for a namespaced server)."""
        if self.namespaced:
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": []}


@dataclass(frozen=True, slots=True)
class ProcessSpec:
    name: str
    argv: tuple[str, ...]
    log_path: Path
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    run_as: RunAs | None = None
    stop_signal: signal.Signals = signal.SIGTERM
    stop_timeout: float = 10.0


@dataclass(frozen=True, slots=True)
class ProcessRecord:
    name: str
    pid: int
    start_ticks: int | None
    argv: tuple[str, ...]
    log_path: str
    stop_signal: str = "SIGTERM"
    stop_timeout: float = 10.0

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "pid": self.pid,
            "start_ticks": self.start_ticks,
            "argv": list(self.argv),
            "log_path": self.log_path,
            "stop_signal": self.stop_signal,
            "stop_timeout": self.stop_timeout,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> ProcessRecord:
        ticks = raw.get("start_ticks")
        return cls(
            name=str(raw["name"]),
            pid=int(raw["pid"]),
            start_ticks=None if ticks is None else int(ticks),
            argv=tuple(str(a) for a in raw.get("argv", ())),
            log_path=str(raw.get("log_path", "")),
            stop_signal=str(raw.get("stop_signal", "SIGTERM")),
            stop_timeout=float(raw.get("stop_timeout", 10.0)),
        )


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, start time in clock ticks) from /proc, or None where /proc is unavailable."""
    if not _HAVE_PROC:
        return None
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return ("X", -1)
    except OSError:
        return None
    # The command name is in parentheses and may itself contain spaces or parentheses.
    fields = raw[raw.rindex(")") + 2 :].split()
    return fields[0], int(fields[19])


def start_ticks_of(pid: int) -> int | None:
    stat = _proc_stat(pid)
    return None if stat is None or stat[1] < 0 else stat[1]


def is_alive(record: ProcessRecord) -> bool:
    child = _CHILDREN.get(record.pid)
    if child is not None:
        return child.poll() is None
    try:
        os.kill(record.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists; it just is not ours to signal
    stat = _proc_stat(record.pid)
    if stat is None:
        return True
    state, ticks = stat
    if state in ("Z", "X"):
        return False
    return record.start_ticks is None or ticks == record.start_ticks


def exit_code(record: ProcessRecord) -> int | None:
    """The exit status of a server this process started and that has exited, else None."""
    child = _CHILDREN.get(record.pid)
    if child is None:
        return _EXITED.get((record.pid, record.start_ticks))
    return child.poll()


def pid_file(pid_dir: Path, name: str) -> Path:
    return pid_dir / f"{name}.json"


def spawn(spec: ProcessSpec, pid_dir: Path | None) -> ProcessRecord:
    """Start `spec`; its record goes to `pid_dir` unless that is None (nobody else stops it)."""
    spec.log_path.parent.mkdir(parents=True, exist_ok=True)
    if pid_dir is not None:
        pid_dir.mkdir(parents=True, exist_ok=True)
    with spec.log_path.open("ab") as log:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S %z")
        log.write(f"=== {stamp} threadweaver starts: {' '.join(spec.argv)}\n".encode())
        log.flush()
        identity = {} if spec.run_as is None else spec.run_as.popen_identity()
        popen = subprocess.Popen(
            list(spec.argv) if spec.run_as is None else spec.run_as.wrap(spec.argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=spec.cwd,
            env=dict(spec.env),
            start_new_session=True,
            close_fds=True,
            **identity,
        )
    _CHILDREN[popen.pid] = popen
    record = ProcessRecord(
        name=spec.name,
        pid=popen.pid,
        start_ticks=start_ticks_of(popen.pid),
        argv=spec.argv,
        log_path=str(spec.log_path),
        stop_signal=spec.stop_signal.name,
        stop_timeout=spec.stop_timeout,
    )
    if pid_dir is not None:
        write_json_atomic(pid_file(pid_dir, spec.name), record.to_json())
    return record


def _signal_group(pid: int, sig: signal.Signals) -> None:
    # Every server leads its own session, so its process group id is its pid.
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def wait_dead(record: ProcessRecord, timeout: float) -> bool:
    """True once the process has exited; False if it still runs after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while is_alive(record):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def stop(record: ProcessRecord, pid_dir: Path | None = None) -> bool:
    """Stop one server and what it left in its process group. True if it needed SIGKILL."""
    killed = False
    if is_alive(record):
        _signal_group(record.pid, signal.Signals[record.stop_signal])
        if not wait_dead(record, record.stop_timeout):
            killed = True
            _signal_group(record.pid, signal.SIGKILL)
            wait_dead(record, 5.0)
    # Helpers that stayed in the group after the leader exited must not outlive the stack.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(record.pid, signal.SIGKILL)
    child = _CHILDREN.pop(record.pid, None)
    if child is not None:
        _EXITED[(record.pid, record.start_ticks)] = child.poll()
    if pid_dir is not None:
        pid_file(pid_dir, record.name).unlink(missing_ok=True)
    return killed


def kill(record: ProcessRecord, pid_dir: Path | None = None) -> None:
    """SIGKILL a server's process group at once: no cleanup, no flush, no goodbye."""
    stop(replace(record, stop_signal=signal.SIGKILL.name, stop_timeout=10.0), pid_dir)


def stop_all(records: Iterable[ProcessRecord], pid_dir: Path | None = None) -> list[str]:
    """Stop servers in reverse start order; names of those that had to be killed."""
    return [r.name for r in reversed(list(records)) if stop(r, pid_dir)]


def read_pid_files(pid_dir: Path) -> list[ProcessRecord]:
    records: list[ProcessRecord] = []
    if not pid_dir.is_dir():
        return records
    for path in sorted(pid_dir.glob("*.json")):
        try:
            records.append(ProcessRecord.from_json(json.loads(path.read_text())))
        except (OSError, ValueError, KeyError, TypeError):
            continue  # a torn pid file names no process we could stop safely
    return records


def write_json_atomic(path: Path, payload: Mapping[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def tail(path: Path | str, lines: int = 15) -> str:
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])
