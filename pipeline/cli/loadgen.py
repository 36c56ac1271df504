"""`threadweaver loadgen --threads K --commands N [--rate R]`."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from pipeline.cli.endpoints import add_endpoint_arguments, settings_from_args
from pipeline.client import CommandClient
from pipeline.client.loadgen import run_load


async def _main(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=False,
        disable=args.quiet,
    ) as bar:
        task = bar.add_task("commands", total=args.commands)
        async with CommandClient(settings) as client:
            summary = await run_load(
                client,
                threads=args.threads,
                commands=args.commands,
                rate=args.rate,
                concurrency=args.concurrency,
                seed=args.seed,
                progress=lambda n: bar.advance(task, n),
            )
    sys.stdout.write(json.dumps(summary.as_dict()) + "\n")
    return 0 if summary.timeouts == 0 else 3


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "loadgen", help="produce a realistic command mix and summarise replies"
    )
    parser.add_argument("--threads", type=int, default=100)
    parser.add_argument("--commands", type=int, default=10_000)
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help="commands per second (default: as fast as possible)",
    )
    parser.add_argument("--concurrency", type=int, default=256, help="commands in flight at most")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_endpoint_arguments(parser)
    parser.set_defaults(handler=lambda args: asyncio.run(_main(args)))
