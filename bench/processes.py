"""The bench's own child processes (load generators, baselines, the profiler): `python -m
<module> ... --out FILE`, run and logged like the components by the product's runner
(pipeline/system), each in its own session so that stopping one touches nothing else.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.config import ROOT
from pipeline.system import Component, Launcher


def run_child(
    launcher: Launcher,
    module: str,
    args: Sequence[str],
    *,
    name: str | None = None,
    timeout: float = 3600.0,
) -> dict[str, Any]:
    """Run `python -m <module> ... --out FILE` to completion and return the JSON it wrote."""
    return finish_child(start_child(launcher, module, args, name=name), timeout)


def start_child(
    launcher: Launcher, module: str, args: Sequence[str], *, name: str | None = None
) -> Component:
    label = name or module.rsplit(".", 1)[-1]
    out = launcher.log_dir / f"{label}-{time.monotonic_ns()}.json"
    argv = [sys.executable, "-m", module, *args, "--out", str(out)]
    return launcher.process(label, argv, env={"PYTHONPATH": str(ROOT)}).start()


def finish_child(child: Component, timeout: float = 3600.0) -> dict[str, Any]:
    code = child.wait(timeout)
    out = Path(child.argv[child.argv.index("--out") + 1])
    if code != 0 or not out.exists():
        raise RuntimeError(f"{child.name} exited with {code}:\n{child.log_tail()}")
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def write_result(path: str, result: Mapping[str, Any]) -> None:
    """What a child process hands back to the bench (see `run_child`)."""
    Path(path).write_text(json.dumps(result, default=str))


def run_closed_loop(
    parser: argparse.ArgumentParser,
    measure: Callable[[argparse.Namespace], Awaitable[Mapping[str, Any]]],
) -> None:
    """A closed-loop load child's main, after its own flags: the load flags the phases pass
    every such child (--targets --connections --seconds --warmup), then `measure`, whose
    result goes back to the bench."""
    parser.add_argument("--targets", required=True)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    write_result(args.out, asyncio.run(measure(args)))


def flags(**values: object) -> list[str]:
    """Command-line flags: flags(ready_timeout=5) == ["--ready-timeout", "5"]."""
    return [
        item
        for name, value in values.items()
        for item in (f"--{name.replace('_', '-')}", str(value))
    ]
