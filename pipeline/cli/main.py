"""Entry point of the `threadweaver` console script.

Each command group lives in its own module and registers itself on the parser with a
`register(subparsers)` function; its handler returns the process exit code, and its
docstring is its help (`command.add_command`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from pipeline.cli import (
    api,
    config,
    db,
    dynamodb,
    journal,
    loadgen,
    mirror,
    projector,
    run,
    stack,
    thread,
    worker,
)
from pipeline.settings import SettingsError

Handler = Callable[[argparse.Namespace], int]

GROUPS = (
    stack,
    run,
    config,
    worker,
    thread,
    loadgen,
    api,
    db,
    projector,
    mirror,
    journal,
    dynamodb,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="threadweaver",
        description="Event-sourced chat threads on Kafka: run the components and talk to them.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except SettingsError as exc:
        # Every command validates the whole configuration when it starts: a bad value stops
        # it here, naming the variable and the rule.
        print(f"threadweaver {args.command}: {exc}", file=sys.stderr, flush=True)
        return 2


if __name__ == "__main__":
    sys.exit(main())
