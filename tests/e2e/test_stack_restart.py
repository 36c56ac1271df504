"""The embedded stack keeps its world: a thread outlives `stack down`/`up` and a SIGKILL of
the broker, and accepts the next command with the next version; the DynamoDB mirror and the
read model stay equal to the journal (`journal verify`, `projector verify`).

Everything goes through the command line a user types, on a stack of its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from pipeline.client.commands import new_id
from pipeline.settings import Settings
from pipeline.stack import broker
from pipeline.stack.ports import free_port
from pipeline.stack.process import is_alive, kill
from pipeline.stack.stack import read_state
from pipeline.system import System
from tests.conftest import stack_data_dir
from tests.support.auth import api_auth_env
from tests.support.processes import launcher, threadweaver, worker

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CLI_TIMEOUT_S = 300.0


def run(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return threadweaver(*args, env=env, timeout=CLI_TIMEOUT_S)


class World:
    """A stack in `data_dir` plus the worker, mirror and projector, driven by the CLI."""

    def __init__(self, data_dir: Path, log_dir: Path) -> None:
        self.data_dir = data_dir
        self.log_dir = log_dir
        self.components = System()

    def stack(self, verb: str) -> str:
        done = run(["stack", verb, "--data-dir", str(self.data_dir)])
        assert done.returncode == 0, f"stack {verb}: {done.stdout}\n{done.stderr}"
        return done.stdout

    @property
    def settings(self) -> Settings:
        state = read_state(self.data_dir)
        assert state is not None
        return state.endpoints.settings()

    def env(self) -> dict[str, str]:
        state = read_state(self.data_dir)
        assert state is not None
        return {**os.environ, **state.endpoints.env()}

    def start_components(self, settings: Settings | None = None) -> None:
        settings = settings or self.settings
        components = launcher(settings, self.log_dir)
        self.components = System(
            [
                worker(settings, self.log_dir, "worker"),
                components.mirror(metrics_port=0),
                components.projector(metrics_port=0),
                components.api(port=free_port(), env=api_auth_env()),
            ]
        )
        self.components.start()

    def stop_components(self) -> None:
        self.components.stop()

    def thread(self, *args: str) -> dict[str, object]:
        done = run(["thread", *args], self.env())
        assert done.returncode == 0, (
            f"thread {args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}\n"
            + "\n".join(f"--- {c.name}\n{c.log_tail()}" for c in self.components)
        )
        reply: dict[str, object] = json.loads(done.stdout)
        return reply

    def verify(self, what: str) -> dict[str, object]:
        # `journal verify --json` / `projector verify --quiet` both print one JSON object.
        flag = "--json" if what == "journal" else "--quiet"
        deadline = time.monotonic() + 120
        while True:
            done = run([what, "verify", flag], self.env())
            if done.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(1.0)  # the mirror or projector may still be catching up
        assert done.returncode == 0, f"{what} verify: {done.stdout}\n{done.stderr}"
        report: dict[str, object] = json.loads(done.stdout)
        return report


@pytest.fixture
def world(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Iterator[World]:
    w = World(stack_data_dir(tmp_path_factory, "restart-stack"), tmp_path / "logs")
    w.stack("up")
    try:
        yield w
    finally:
        w.stop_components()
        run(["stack", "down", "--data-dir", str(w.data_dir)])


def test_a_thread_outlives_stack_down_up_and_a_broker_sigkill(world: World) -> None:
    admin, member = new_id(), new_id()
    world.start_components()
    created = world.thread("create", "--as", admin, "--title", "kept", "--member", member)
    thread_id = str(created["thread_id"])
    assert created["version"] == 1
    for n, text in enumerate(("one", "two", "three"), start=2):
        assert world.thread("post", thread_id, "--as", member, text)["version"] == n

    settings = world.settings
    world.stop_components()
    world.stack("down")
    # Components started while every server is down (the worker, mirror, projector and API)
    # wait for them instead of exiting; `stack up` brings the servers back on the same ports.
    world.start_components(settings)
    time.sleep(3)
    world.stack("up")
    assert world.thread("post", thread_id, "--as", admin, "after down/up")["version"] == 5
    assert [c.name for c in world.components if not c.alive()] == []

    state = read_state(world.data_dir)
    assert state is not None
    kafka = next(p for p in state.processes if p.name == broker.NAME)
    kill(kafka)
    assert not is_alive(kafka), "the broker survived SIGKILL"
    restarted = world.stack("up")
    assert "restarting kafka" in restarted
    after = read_state(world.data_dir)
    assert after is not None
    # Only the broker was started again; the others kept running (and their clients).
    assert {p.name: p.pid for p in after.processes if p.name != broker.NAME} == {
        p.name: p.pid for p in state.processes if p.name != broker.NAME
    }
    assert after.endpoints.bootstrap_servers == state.endpoints.bootstrap_servers
    assert world.thread("post", thread_id, "--as", admin, "after SIGKILL")["version"] == 6

    assert [c.name for c in world.components if not c.alive()] == []
    mirror = world.verify("journal")
    assert mirror["differences"] == 0, mirror
    assert mirror["table_items"] == 6, mirror
    projection = world.verify("projector")
    assert projection["ok"] is True, projection
    assert projection["threads"] == 1, projection


async def test_projector_verify_reports_threads_only_the_read_model_has(world: World) -> None:
    # A read model kept while its journal was lost (the old memory-only broker did that).
    orphan = new_id()
    dsn = world.settings.pg_dsn
    assert dsn is not None
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "INSERT INTO threads (id, creator_id, title, created_at, updated_at, version) "
            "VALUES ($1, $2, 'orphan', now(), now(), 3)",
            orphan,
            new_id(),
        )
    finally:
        await conn.close()
    done = run(["projector", "verify", "--quiet"], world.env())
    assert done.returncode == 1, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["unexpected"] == [orphan], report
