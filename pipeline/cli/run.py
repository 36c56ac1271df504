"""`threadweaver run`: the whole system in the foreground until Ctrl-C (`make run`).

Starts the embedded stack (or reuses a running one), then each component as a
`threadweaver <name>` child process with the stack's environment, waits for Ctrl-C or
SIGTERM, and stops what it started: the components first, then the stack, unless the stack
was already running before (then it belongs to whoever started it and keeps running).

The API verifies bearer tokens signed with the data dir's development key (created once,
pipeline/cli/dev_key.py); the demo prints a token. `--no-auth` runs it without
authentication, loudly.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from pipeline.cli.command import Subparsers, add_command
from pipeline.cli.stack import add_stack_arguments, data_dir_of, print_started

if TYPE_CHECKING:
    from pipeline.stack.layout import Layout
    from pipeline.system import System

COMPONENT_STOP_TIMEOUT = 30.0
# The demo's printed token: good for a working day.
DEMO_TOKEN_TTL_S = 12 * 3600


def _say(message: str) -> None:
    print(message, flush=True)


def _components(layout: Layout, env: Mapping[str, str]) -> System:
    """The worker, the mirror, the projector and the API, with pid files beside the stack's
    servers' so that `stack down` stops what a killed `run` left behind."""
    from pipeline.system import Launcher, System  # noqa: PLC0415

    launcher = Launcher(
        env, layout.logs, pid_dir=layout.run, cwd=Path.cwd(), stop_timeout=COMPONENT_STOP_TIMEOUT
    )
    return System([launcher.worker(), launcher.mirror(), launcher.projector(), launcher.api()])


def _api_auth(layout: Layout, no_auth: bool) -> tuple[dict[str, str], Callable[[str], str] | None]:
    """The API's authentication environment, and how the demo gets a token of an account."""
    from pipeline.settings import AuthSettings  # noqa: PLC0415
    from pipeline.settings.api import AUTH_MODE_ENV  # noqa: PLC0415

    if no_auth:
        from api.auth import DISABLED_BANNER  # noqa: PLC0415

        print(DISABLED_BANNER, file=sys.stderr, flush=True)
        return {AUTH_MODE_ENV: "disabled"}, None
    from api.tokens import mint  # noqa: PLC0415
    from pipeline.cli.dev_key import dev_auth_env, ensure_dev_key  # noqa: PLC0415

    key_file = ensure_dev_key(layout.root)
    env = dev_auth_env(key_file)
    auth = AuthSettings.from_env(env)
    _say(f"API authentication: HS256 bearer tokens, development key {key_file}")
    _say(f"a token for an account: threadweaver api token ACCOUNT_ID --data-dir {layout.root}")
    return env, lambda account: mint(auth, account, DEMO_TOKEN_TTL_S)


def _without_auth_settings(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment minus the API's authentication variables, which `run` sets itself."""
    from pipeline.settings.api import AUTH_ENV_NAMES  # noqa: PLC0415

    ignored = sorted(name for name in AUTH_ENV_NAMES if name in environ)
    if ignored:
        _say(f"NOTE: `run` configures the API's authentication; ignoring {', '.join(ignored)}")
    return {name: value for name, value in environ.items() if name not in AUTH_ENV_NAMES}


def _demo(api_url: str, token_for: Callable[[str], str] | None) -> None:
    """Create a small conversation through the public API and print where to look."""
    from pipeline.client.demo import DemoError, run_demo  # noqa: PLC0415

    try:
        demo = run_demo(api_url, token_for)
    except (DemoError, OSError) as exc:
        _say(f"demo skipped: {exc}")
        return
    for line in demo.lines:
        _say(line)
    _say("stop with Ctrl-C")


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    # During startup SIGTERM behaves like Ctrl-C: `up` stops whatever it had started.
    raise KeyboardInterrupt


def _run(args: argparse.Namespace) -> int:
    """run the stack and the components in the foreground until Ctrl-C

    Start the embedded stack (reusing a running one) and the components, print where
    everything is, and stop what was started on Ctrl-C or SIGTERM.
    """
    from pipeline.settings import (  # noqa: PLC0415
        KafkaTuning,
        LogFormat,
        LogSettings,
        Settings,
        WorkerSettings,
    )
    from pipeline.stack.errors import StackError  # noqa: PLC0415
    from pipeline.stack.layout import Layout  # noqa: PLC0415
    from pipeline.stack.stack import down, export_lines, up  # noqa: PLC0415

    # The whole configuration is checked before anything starts (a bad value: exit 2).
    settings = Settings.from_env()
    data_dir = data_dir_of(args)
    layout = Layout.of(data_dir)
    previous_int = signal.getsignal(signal.SIGINT)
    previous_term = signal.signal(signal.SIGTERM, _interrupt)
    try:
        try:
            result = up(data_dir, partitions=args.partitions, echo=_say)
        except KeyboardInterrupt:
            _say("interrupted while starting: stopped what had been started")
            return 130
        except StackError as exc:
            print(f"threadweaver run: {exc}", file=sys.stderr, flush=True)
            return 1

        stopping = threading.Event()

        def on_signal(signum: int, _frame: FrameType | None) -> None:
            if stopping.is_set():
                _say("already stopping, please wait")
            else:
                _say(f"{signal.Signals(signum).name}: stopping")
            stopping.set()

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)

        status = 0
        system: System | None = None
        try:
            print_started(result, data_dir)
            env = result.state.endpoints.env()
            for line in export_lines(env):
                _say(line)
            worker_env = {
                WorkerSettings.variable("data_dir"): str(layout.root / "worker"),
                # A component that died without leaving its group (a crash, a kill) keeps its
                # partitions until its session expires: the broker's least, 6 s, not 10.
                KafkaTuning.variable("session_timeout_s"): "6",
                # Logs read by a person in a terminal, unless the environment chose.
                LogSettings.variable("format"): LogFormat.CONSOLE.value,
            }
            auth_env, token_for = _api_auth(layout, args.no_auth)
            inherited = _without_auth_settings(os.environ)
            system = _components(layout, {**worker_env, **inherited, **env, **auth_env})
            system.start(lambda c: _say(f"started {c.name} (pid {c.pid}), log {c.log_path}"))
            threading.Thread(target=_demo, args=(settings.api_url, token_for), daemon=True).start()
            _say("running; Ctrl-C stops " + ("what was started" if not result.reused else "it"))
            while not stopping.wait(0.5):
                exited = system.exited()
                if exited:
                    first = exited[0]
                    _say(
                        f"{first.name} exited (code {first.exit_code}); see {first.log_path}. "
                        "Stopping everything."
                    )
                    status = 1
                    stopping.set()
        finally:
            if system is not None:
                system.stop()
            if result.reused:
                _say(f"the stack in {layout.root} was running before `run`: left running")
            else:
                stopped = down(data_dir)
                _say(f"stopped: {', '.join(stopped.stopped) or 'nothing was left running'}")
        return status
    finally:
        signal.signal(signal.SIGINT, previous_int)
        signal.signal(signal.SIGTERM, previous_term)


def register(subparsers: Subparsers) -> None:
    run = add_command(subparsers, "run", _run)
    add_stack_arguments(run, starts=True)
    run.add_argument(
        "--no-auth",
        action="store_true",
        help="serve the API WITHOUT authentication (callers name any account in account_id; "
        "local development only)",
    )
