"""`threadweaver projector [rebuild --yes | verify [--thread ID]...]`: the PostgreSQL read model.

Settings come from the environment (THREADWEAVER_*; see README), else the local stack.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import TYPE_CHECKING

from pipeline.cli.command import Subparsers, add_command
from pipeline.cli.endpoints import add_endpoint_arguments, settings_from_args

if TYPE_CHECKING:
    from rich.progress import Progress

    from pipeline.settings import Settings

# The handlers import pipeline.projector lazily: other commands need not load asyncpg.


def _settings(args: argparse.Namespace) -> Settings:
    settings = settings_from_args(args)
    settings.required_pg_dsn("the projector")  # fail before anything starts
    return settings


def _logging(settings: Settings) -> None:
    from pipeline import logs  # noqa: PLC0415

    logs.configure(settings.log.level, settings.log.format)


def _error(message: str, code: int) -> int:
    print(f"threadweaver projector: {message}", file=sys.stderr, flush=True)
    return code


def _run(args: argparse.Namespace) -> int:
    """run the PostgreSQL projector (journal -> read model), or rebuild / verify it

    Without a subcommand: run the projector until SIGTERM/SIGINT.
    """
    from prometheus_client import start_http_server  # noqa: PLC0415

    from pipeline.projector.runner import serve  # noqa: PLC0415

    try:
        settings = _settings(args)
    except ValueError as exc:
        return _error(str(exc), 2)
    _logging(settings)
    if settings.projector.metrics_port:
        start_http_server(settings.projector.metrics_port, addr="0.0.0.0")
    asyncio.run(serve(settings))
    return 0


def _progress(quiet: bool) -> Progress:
    from rich.console import Console  # noqa: PLC0415
    from rich.progress import (  # noqa: PLC0415
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        disable=quiet,
        # Progress on stderr keeps stdout one JSON document.
        console=Console(stderr=True),
    )


def _confirmed(args: argparse.Namespace) -> bool:
    if args.yes:
        return True
    if not sys.stdin.isatty():
        return False
    answer = input(
        "This empties the read model and projects the whole journal again; every projector of "
        "this database must be stopped. Type 'rebuild' to go on: "
    )
    return answer.strip() == "rebuild"


def _rebuild(args: argparse.Namespace) -> int:
    """empty the read model and project the journal from its start (stop every projector of
    the database first)"""
    from pipeline.projector.rebuild import RebuildRefusedError, rebuild  # noqa: PLC0415

    try:
        settings = _settings(args)
    except ValueError as exc:
        return _error(str(exc), 2)
    if not _confirmed(args):
        return _error("not confirmed (pass --yes to rebuild without asking)", 2)
    _logging(settings)
    with _progress(args.quiet) as bar:
        task = bar.add_task("journal records", total=None)
        try:
            report = asyncio.run(
                rebuild(
                    settings,
                    on_total=lambda n: bar.update(task, total=n),
                    on_progress=lambda n: bar.advance(task, n),
                )
            )
        except RebuildRefusedError as exc:
            return _error(str(exc), 1)
    projected = report.projected
    summary = {
        "records": projected.records,
        "outcomes": dict(projected.outcomes),
        "journal_end": {str(p): o for p, o in sorted(report.journal_end.items())},
        "seconds_in_batches": round(projected.seconds, 3),
    }
    sys.stdout.write(json.dumps(summary) + "\n")
    return 0


def _verify(args: argparse.Namespace) -> int:
    """compare the read model with fold(journal) thread by thread (exit 1 on a difference)"""
    from pipeline.projector.verify import verify  # noqa: PLC0415

    try:
        settings = _settings(args)
    except ValueError as exc:
        return _error(str(exc), 2)
    with _progress(args.quiet) as bar:
        task = bar.add_task("journal records", total=None)
        report = asyncio.run(
            verify(
                settings,
                args.thread or None,
                on_total=lambda n: bar.update(task, total=n),
                on_progress=lambda n: bar.advance(task, n),
            )
        )
    sys.stdout.write(json.dumps(report.as_dict()) + "\n")
    return 0 if report.ok else 1


def register(subparsers: Subparsers) -> None:
    parser = add_command(subparsers, "projector", _run)
    add_endpoint_arguments(parser)
    actions = parser.add_subparsers(dest="projector_command", metavar="ACTION")
    rebuild = add_command(actions, "rebuild", _rebuild)
    rebuild.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    rebuild.add_argument("--quiet", action="store_true", help="no progress bar")
    add_endpoint_arguments(rebuild)
    check = add_command(actions, "verify", _verify)
    check.add_argument("--thread", action="append", metavar="ID", help="only these threads")
    check.add_argument("--quiet", action="store_true", help="no progress bar")
    add_endpoint_arguments(check)
