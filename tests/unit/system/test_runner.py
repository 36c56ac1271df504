"""The runner every user of the system shares (pipeline/system): child processes started,
stopped, killed, restarted, waited for, with their logs; a system stopped in reverse order.

Plain Python children stand in for the components: the runner does not care what it runs.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.stack.process import pid_file
from pipeline.system import Component, ComponentError, Launcher, Probe, System

pytestmark = pytest.mark.unit

# What the children print once their SIGTERM handler is in place (not in their code, which
# the log's header line quotes).
UP = b"up-now"
# Says it started, then waits; on SIGTERM it says so and exits 0, as the components do.
SERVER = """
import signal, sys, time
def stopped(*_):
    print("stopping", flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, stopped)
print("-".join(["up", "now"]), flush=True)
while True:
    time.sleep(0.05)
"""
# Ignores SIGTERM: only SIGKILL ends it.
STUBBORN = """
import signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("-".join(["up", "now"]), flush=True)
while True:
    time.sleep(0.05)
"""


def launcher(tmp_path: Path, pid_dir: Path | None = None) -> Launcher:
    return Launcher({"PATH": "/usr/bin:/bin"}, tmp_path / "logs", pid_dir=pid_dir)


def python(launch: Launcher, name: str, code: str, ready: Probe | None = None) -> Component:
    return launch.process(name, [sys.executable, "-c", code], ready=ready)


def test_stop_sends_sigterm_and_returns_the_exit_code(tmp_path: Path) -> None:
    server = python(launcher(tmp_path), "server", SERVER).start()
    server.wait_ready(10)
    assert server.alive()
    assert server.pid is not None
    assert server.exit_code is None
    assert _eventually(lambda: UP in server.run_log())
    assert server.stop() == 0
    assert not server.alive()
    assert server.exit_code == 0
    assert server.log_tail().splitlines()[-1] == "stopping"


def test_stop_kills_what_ignores_sigterm(tmp_path: Path) -> None:
    stubborn = python(launcher(tmp_path), "stubborn", STUBBORN).start()
    assert _eventually(lambda: UP in stubborn.run_log())
    assert stubborn.stop(timeout=0.5) == -signal.SIGKILL


def test_kill_is_sigkill_and_restart_starts_again(tmp_path: Path) -> None:
    server = python(launcher(tmp_path), "server", SERVER).start()
    first = server.pid
    assert _eventually(lambda: UP in server.run_log())
    server.kill()
    assert server.exit_code == -signal.SIGKILL
    server.restart()
    assert server.alive()
    assert server.pid != first
    assert server.starts == 2
    # The log of the latest start only: the first start's lines are not in it.
    assert _eventually(lambda: server.run_log().count(UP) == 1)
    assert server.log_path.read_bytes().count(UP) == 2
    assert server.stop() == 0


def test_start_twice_is_refused(tmp_path: Path) -> None:
    server = python(launcher(tmp_path), "server", SERVER).start()
    try:
        with pytest.raises(ComponentError, match="already running"):
            server.start()
    finally:
        server.stop()


def test_wait_returns_the_exit_code_or_stops_it_after_the_timeout(tmp_path: Path) -> None:
    launch = launcher(tmp_path)
    assert python(launch, "quick", "raise SystemExit(3)").start().wait(10) == 3
    slow = python(launch, "slow", SERVER).start()
    with pytest.raises(ComponentError, match="did not finish"):
        slow.wait(0.3)
    assert not slow.alive()


def test_wait_ready_follows_the_probe_and_reports_an_early_death(tmp_path: Path) -> None:
    launch = launcher(tmp_path)
    marker = tmp_path / "ready"
    server = python(launch, "server", SERVER, ready=marker.exists).start()
    try:
        with pytest.raises(ComponentError, match="not ready within"):
            server.wait_ready(0.3)
        marker.touch()
        server.wait_ready(5)
    finally:
        server.stop()
    dying = python(launch, "dying", "print('bad config'); raise SystemExit(2)", ready=lambda: False)
    with pytest.raises(ComponentError, match=r"exited \(2\) before ready(.|\n)*bad config"):
        dying.start().wait_ready(10)


def test_pid_files_name_what_runs_and_go_with_it(tmp_path: Path) -> None:
    pids = tmp_path / "run"
    server = python(launcher(tmp_path, pid_dir=pids), "server", SERVER).start()
    assert json.loads(pid_file(pids, "server").read_text())["pid"] == server.pid
    server.stop()
    assert not pid_file(pids, "server").exists()


def test_a_system_starts_in_order_and_stops_in_reverse(tmp_path: Path) -> None:
    launch = launcher(tmp_path)
    order = tmp_path / "order"
    # Each appends its name to `order` when it stops.
    code = SERVER.replace('print("stopping", flush=True)', "open({!r}, 'a').write({!r})")
    system = System(python(launch, n, code.format(str(order), n)) for n in ("a", "b", "c"))
    started: list[str] = []
    system.start(lambda c: started.append(c.name))
    assert started == ["a", "b", "c"]
    system.wait_ready(10)
    assert _eventually(lambda: all(UP in c.run_log() for c in system))
    system["b"].kill()
    assert [c.name for c in system.exited()] == ["b"]
    assert "--- b (" in system.log_tails()
    assert system.stop() == {"c": 0, "b": -signal.SIGKILL, "a": 0}
    assert order.read_text() == "ca"


def test_launcher_builds_the_components_as_threadweaver_subcommands(tmp_path: Path) -> None:
    launch = Launcher({"SHARED": "1"}, tmp_path, command=("threadweaver",))
    worker = launch.worker("w", data_dir=tmp_path / "w", runtime="confluent", metrics_port=0)
    assert worker.argv == ("threadweaver", "worker")
    assert worker.data_dir == tmp_path / "w"
    assert worker.env == {
        "SHARED": "1",
        "THREADWEAVER_WORKER_DATA_DIR": str(tmp_path / "w"),
        "THREADWEAVER_WORKER_RUNTIME": "confluent",
        "THREADWEAVER_WORKER_METRICS_PORT": "0",
    }
    assert worker.log_path == tmp_path / "w.log"
    api = launch.api(port=8123, workers=2, env={"X": "y"})
    assert api.argv == ("threadweaver", "api", "--port", "8123", "--workers", "2")
    assert api.env["X"] == "y"
    rebuild = launch.projector("rebuild", args=["rebuild", "--yes"])
    assert rebuild.argv == ("threadweaver", "projector", "rebuild", "--yes")


def _eventually(check: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True
