"""Entry point of the `threadweaver` console script.

Each command group lives in its own module and registers itself on the parser with a
`register(subparsers)` function; its handler returns the process exit code.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from pipeline.cli import (
    api,
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

Handler = Callable[[argparse.Namespace], int]

GROUPS = (stack, run, worker, thread, loadgen, api, db, projector, mirror, journal, dynamodb)


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
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
