"""`threadweaver stack up|env|down`: the embedded local stack of one data directory."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.cli.command import Subparsers, add_command
from pipeline.stack.layout import DATA_DIR_ENV, default_data_dir

if TYPE_CHECKING:
    from pipeline.stack.stack import UpResult

# The handlers import pipeline.stack.stack lazily: it pulls in confluent-kafka and asyncpg,
# which `threadweaver --help` and the other commands do not need.


def add_stack_arguments(parser: argparse.ArgumentParser, *, starts: bool = False) -> None:
    """--data-dir; with `starts` (a command that may start the stack), --partitions too."""
    parser.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help=f"where the stack keeps its data and logs (default: ${DATA_DIR_ENV} or .data)",
    )
    if starts:
        parser.add_argument(
            "--partitions",
            type=int,
            metavar="N",
            help="partitions of every topic on a first start (default: the existing topics' "
            "count, else $THREADWEAVER_PARTITIONS or 4)",
        )


def data_dir_of(args: argparse.Namespace) -> Path:
    chosen: Path | None = args.data_dir
    return chosen if chosen is not None else default_data_dir()


def _say(message: str) -> None:
    print(message, flush=True)


def _error(message: str) -> int:
    print(f"threadweaver stack: {message}", file=sys.stderr, flush=True)
    return 1


def print_started(result: UpResult, data_dir: Path) -> None:
    from pipeline.stack.stack import describe  # noqa: PLC0415

    for line in describe(result):
        _say(line)
    _say(result.provisioned.summary())
    _say(f'environment for clients: eval "$(threadweaver stack env --data-dir {data_dir})"')


def _up(args: argparse.Namespace) -> int:
    """start the servers (or reuse running ones) and provision them

    Start Apache Kafka (one KRaft node), PostgreSQL and dynalite on free loopback ports,
    create the topics, the DynamoDB table and the SQL schema, and return once all answer. The
    servers keep running after this command exits; their data survives stops and crashes, and
    `up` after a crash brings back whatever died.
    """
    from pipeline.stack.errors import StackError  # noqa: PLC0415
    from pipeline.stack.stack import up  # noqa: PLC0415

    data_dir = data_dir_of(args)
    try:
        result = up(
            data_dir,
            partitions=args.partitions,
            echo=_say,
        )
    except StackError as exc:
        return _error(str(exc))
    except KeyboardInterrupt:
        # `up` has already stopped whatever it had started.
        _error("interrupted: nothing was left running")
        return 130
    print_started(result, data_dir)
    return 0


def _install(_args: argparse.Namespace) -> int:
    """resolve the broker's jars (Maven) and the DynamoDB-API server (npm)

    Put Apache Kafka's jars and dynalite into the venv, pinned by pipeline/stack/kafka/pom.xml
    and pipeline/stack/dynalite/package-lock.json. `make` runs it; `stack up` does it too when
    needed.
    """
    from pipeline.stack import broker, dynamodb_server  # noqa: PLC0415
    from pipeline.stack.errors import StackError  # noqa: PLC0415

    try:
        libs = broker.install(_say)
        node_modules = dynamodb_server.ensure_installed(_say)
    except StackError as exc:
        return _error(str(exc))
    _say(f"kafka: {libs}")
    _say(f"dynalite: {node_modules}")
    return 0


def _env(args: argparse.Namespace) -> int:
    """print export lines for the running stack

    Print `export NAME=value` lines; use as eval "$(threadweaver stack env)".
    """
    from pipeline.stack.errors import StackError  # noqa: PLC0415
    from pipeline.stack.stack import env_of, export_lines  # noqa: PLC0415

    try:
        env = env_of(data_dir_of(args))
    except StackError as exc:
        return _error(str(exc))
    for line in export_lines(env):
        print(line)
    return 0


def _down(args: argparse.Namespace) -> int:
    """stop the servers `up` started

    Stop exactly the processes `up` started for the data dir; data is kept.
    """
    from pipeline.stack.errors import StackError  # noqa: PLC0415
    from pipeline.stack.layout import Layout  # noqa: PLC0415
    from pipeline.stack.stack import down  # noqa: PLC0415

    data_dir = data_dir_of(args)
    try:
        result = down(data_dir)
    except StackError as exc:
        return _error(str(exc))
    if not result.stopped:
        _say(f"no stack was running in {Layout.of(data_dir).root}")
        return 0
    _say(f"stopped: {', '.join(result.stopped)}")
    if result.killed:
        _say(f"had to be killed (did not stop in time): {', '.join(result.killed)}")
    return 0


def register(subparsers: Subparsers) -> None:
    stack = subparsers.add_parser(
        "stack",
        help="the embedded local stack (Apache Kafka, PostgreSQL, dynalite)",
        description="Start, describe and stop the servers of the embedded local stack.",
    )
    commands = stack.add_subparsers(dest="stack_command", required=True, metavar="COMMAND")

    add_stack_arguments(add_command(commands, "up", _up), starts=True)
    add_command(commands, "install", _install)
    add_stack_arguments(add_command(commands, "env", _env))
    add_stack_arguments(add_command(commands, "down", _down))
