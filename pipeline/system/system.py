"""The components of one system: how each is launched, and a set of them started in order
and stopped in reverse.

`threadweaver run`, the tests, the chaos suite and the bench all start the components here,
so they run what a user runs, the same way.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict, Unpack

from pipeline.settings import PREFIX
from pipeline.system.component import Component, Probe, http_ok, threadweaver_command

# Each component's metrics port unless its environment sets one (its config.py); 0 = none.
DEFAULT_METRICS_PORTS = {"WORKER": 9464, "MIRROR": 9465, "PROJECTOR": 9466}
DEFAULT_API_PORT = 8000


class ProcessOptions(TypedDict, total=False):
    """What one launched process adds to the launcher's shared settings (`env` adds to the
    shared environment; `ready` and `data_dir` are `Component`'s)."""

    env: Mapping[str, str] | None
    ready: Probe | None
    data_dir: Path | None


@dataclass(frozen=True)
class Launcher:
    """What the components of one system share: their environment, the directory of their
    logs, where their pid files go (if another process must be able to stop them), their
    working directory and how long a SIGTERM may take before a SIGKILL."""

    env: Mapping[str, str]
    log_dir: Path
    pid_dir: Path | None = None
    cwd: Path | None = None
    stop_timeout: float = 30.0
    command: tuple[str, ...] = field(default_factory=lambda: tuple(threadweaver_command()))

    def process(
        self, name: str, argv: Sequence[str], **options: Unpack[ProcessOptions]
    ) -> Component:
        """Any command, run and logged like a component (a load generator, a profiler)."""
        return Component(
            name,
            argv,
            env={**self.env, **(options.get("env") or {})},
            log_path=self.log_dir / f"{name}.log",
            pid_dir=self.pid_dir,
            cwd=self.cwd,
            ready=options.get("ready"),
            data_dir=options.get("data_dir"),
            stop_timeout=self.stop_timeout,
        )

    def component(
        self, name: str, args: Sequence[str], **options: Unpack[ProcessOptions]
    ) -> Component:
        """`threadweaver <args>`."""
        return self.process(name, [*self.command, *args], **options)

    def worker(
        self,
        name: str = "worker",
        *,
        data_dir: Path | None = None,
        runtime: str | None = None,
        metrics_port: int | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Component:
        """`threadweaver worker`, its RocksDB store in `data_dir`; ready once its metrics
        endpoint answers (when it has one)."""
        own = _metrics_env("WORKER", metrics_port)
        if data_dir is not None:
            own[f"{PREFIX}WORKER_DATA_DIR"] = str(data_dir)
        if runtime is not None:
            own[f"{PREFIX}WORKER_RUNTIME"] = runtime
        own |= env or {}
        ready = self._metrics_probe("WORKER", own)
        return self.component(name, ["worker"], env=own, ready=ready, data_dir=data_dir)

    def mirror(
        self,
        name: str = "mirror",
        *,
        metrics_port: int | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Component:
        own = _metrics_env("MIRROR", metrics_port) | dict(env or {})
        return self.component(name, ["mirror"], env=own, ready=self._metrics_probe("MIRROR", own))

    def projector(
        self,
        name: str = "projector",
        *,
        args: Sequence[str] = (),
        metrics_port: int | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Component:
        """`threadweaver projector [args]` (`args`: `rebuild --yes`, say)."""
        own = _metrics_env("PROJECTOR", metrics_port) | dict(env or {})
        ready = None if args else self._metrics_probe("PROJECTOR", own)
        return self.component(name, ["projector", *args], env=own, ready=ready)

    def api(
        self,
        name: str = "api",
        *,
        port: int | None = None,
        workers: int | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Component:
        """`threadweaver api`, ready once /readyz answers 200 (its dependencies answer)."""
        args = ["api"]
        if port is not None:
            args += ["--port", str(port)]
        if workers is not None:
            args += ["--workers", str(workers)]
        merged = {**self.env, **(env or {})}
        serving = port or int(merged.get(f"{PREFIX}API_PORT", DEFAULT_API_PORT))
        ready = http_ok(f"http://127.0.0.1:{serving}/readyz")
        return self.component(name, args, env=env, ready=ready)

    def _metrics_probe(self, component: str, env: Mapping[str, str]) -> Probe | None:
        name = f"{PREFIX}{component}_METRICS_PORT"
        port = int({**self.env, **env}.get(name, DEFAULT_METRICS_PORTS[component]))
        return http_ok(f"http://127.0.0.1:{port}/metrics") if port else None


def _metrics_env(component: str, port: int | None) -> dict[str, str]:
    return {} if port is None else {f"{PREFIX}{component}_METRICS_PORT": str(port)}


class System:
    """Components started in the order given and stopped in the reverse order."""

    def __init__(self, components: Iterable[Component] = ()) -> None:
        self.components = list(components)

    def __iter__(self) -> Iterator[Component]:
        return iter(self.components)

    def __getitem__(self, name: str) -> Component:
        for component in self.components:
            if component.name == name:
                return component
        raise KeyError(name)

    def add(self, component: Component) -> Component:
        self.components.append(component)
        return component

    def start(self, started: Callable[[Component], None] | None = None) -> None:
        for component in self.components:
            component.start()
            if started is not None:
                started(component)

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for component in self.components:
            component.wait_ready(max(0.0, deadline - time.monotonic()))

    def exited(self) -> list[Component]:
        """The components started and no longer running."""
        return [c for c in self.components if c.starts and not c.alive()]

    def stop(self) -> dict[str, int | None]:
        """SIGTERM each (the last started first), SIGKILL what does not stop: exit codes."""
        return {component.name: component.stop() for component in reversed(self.components)}

    def log_tails(self, lines: int = 25) -> str:
        return "\n".join(
            f"--- {c.name} ({c.log_path})\n{c.log_tail(lines)}" for c in self.components
        )
