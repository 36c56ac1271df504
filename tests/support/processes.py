"""The project's components as child processes for integration and e2e tests: the product's
runner (pipeline/system) with the tests' environment."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path

from pipeline.settings import Settings
from pipeline.system import Component, Launcher, threadweaver_command

__all__ = [
    "THREADWEAVER",
    "Component",
    "component_env",
    "launcher",
    "supervised",
    "threadweaver",
    "worker",
]

THREADWEAVER = threadweaver_command()


def threadweaver(
    *args: str, env: Mapping[str, str] | None = None, timeout: float = 120.0
) -> subprocess.CompletedProcess[str]:
    """`threadweaver ARGS` run to its end, its output captured as text; the exit code is the
    caller's to check."""
    return subprocess.run(
        [*THREADWEAVER, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


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


def launcher(settings: Settings, log_dir: Path, **env: str) -> Launcher:
    """Components on `settings`' servers, logging to `log_dir/<name>.log`."""
    return Launcher(component_env(settings, **env), log_dir)


def worker(
    settings: Settings, data_dir: Path, name: str = "worker", runtime: str = "faust"
) -> Component:
    return launcher(settings, data_dir).worker(
        name, data_dir=data_dir / name, runtime=runtime, metrics_port=0
    )


@contextlib.contextmanager
def supervised(component: Component) -> Iterator[Component]:
    """`component` started for the block, which it must survive: alive at the end, and
    stopped with exit code 0 (a crash in between is the test's failure, with the log)."""
    component.start()
    yield component
    assert component.alive(), component.log_tail()
    assert component.stop() == 0, component.log_tail()
