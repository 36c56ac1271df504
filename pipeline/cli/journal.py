"""`threadweaver journal history|verify`: read the DynamoDB journal, compare it with Kafka.

Exit codes: history 0 (events printed), 1 (no events); verify 0 (no differences),
1 (differences); both 3 on an infrastructure error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from pipeline.cli.command import Subparsers, add_command
from pipeline.cli.endpoints import add_endpoint_arguments, settings_from_args
from pipeline.settings import Settings

EXIT_OK, EXIT_FOUND_NOTHING_OR_DIFFERENCES, EXIT_INFRA = 0, 1, 3


def _settings(args: argparse.Namespace) -> Settings:
    settings = settings_from_args(args)
    if args.table:
        settings = settings.replaced(dynamodb_table=args.table)
    return settings


def _client(settings: Settings) -> Any:
    from pipeline.mirror.aws import dynamodb_client  # noqa: PLC0415 - boto3 is slow to import

    # A Scan page of a large table can take longer than the components' 10 s (moto walks the
    # whole table for every page); an operator's verify should wait rather than fail.
    return dynamodb_client(settings, timeout_s=60.0, sdk_attempts=5)


def _infra_error(exc: Exception) -> int:
    print(f"threadweaver journal: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
    return EXIT_INFRA


def _history(args: argparse.Namespace) -> int:
    """print a thread's events from DynamoDB, one JSON object per line

    Query the thread's items (paginated, consistent reads) and decode them. Exit 1 when there
    are none.
    """
    from pipeline.mirror.history import entry_json, history  # noqa: PLC0415

    settings = _settings(args)
    printed = 0
    try:
        for entry in history(
            _client(settings), settings.dynamodb_table, args.thread_id, args.from_seq
        ):
            sys.stdout.write(json.dumps(entry_json(entry)) + "\n")
            printed += 1
    except BrokenPipeError:
        # The reader (`head`, a pager) has seen enough; Python must not complain at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:
        return _infra_error(exc)
    if not printed:
        print(
            f"no events of thread {args.thread_id} from seq_nr {args.from_seq} in "
            f"{settings.dynamodb_table}",
            file=sys.stderr,
        )
        return EXIT_FOUND_NOTHING_OR_DIFFERENCES
    return EXIT_OK


def _verify(args: argparse.Namespace) -> int:
    """compare DynamoDB with the Kafka journal and print the differences

    Fold the whole journal by the mirror's rule (first event per (thread_id, seq_nr)), scan the
    table, read the conflicts topic, and list journal records accounted for neither by an item
    nor by a dead letter, and items the journal does not explain. Exit 1 when there are
    differences. Run it when the mirror has caught up: records in flight show up as
    differences.
    """
    from pipeline.mirror.verify import verify  # noqa: PLC0415

    settings = _settings(args)
    try:
        report = verify(_client(settings), settings, segments=args.segments)
    except Exception as exc:
        return _infra_error(exc)
    if args.json:
        sys.stdout.write(json.dumps(report.as_json(limit=args.limit)) + "\n")
    else:
        counts = report.counts()
        lines = [
            f"journal: {report.journal_records} records in {settings.topics.events}: "
            f"{report.duplicates} identical duplicates, {report.conflicts} conflicting and "
            f"{report.unmirrorable} unmirrorable (these belong in the conflicts topic)",
            f"table:   {report.table_items} items in {settings.dynamodb_table}; "
            f"{len(report.refused)} events refused by DynamoDB and dead-lettered",
            f"differences: {len(report.differences)} ("
            + ", ".join(f"{kind} {n}" for kind, n in counts.items())
            + ")",
        ]
        lines += [f"  {d.describe()}" for d in report.differences[: args.limit]]
        if len(report.differences) > args.limit:
            lines.append(f"  ... {len(report.differences) - args.limit} more (--limit)")
        for (thread_id, seq_nr), (partition, offset) in report.refused[: args.limit]:
            lines.append(
                f"  refused and dead-lettered: thread {thread_id} seq_nr {seq_nr} "
                f"(journal {partition}@{offset})"
            )
        sys.stdout.write("\n".join(lines) + "\n")
    return EXIT_FOUND_NOTHING_OR_DIFFERENCES if report.differences else EXIT_OK


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--table", help="DynamoDB table (default: $THREADWEAVER_DYNAMODB_TABLE)")
    add_endpoint_arguments(parser)


def register(subparsers: Subparsers) -> None:
    journal = subparsers.add_parser(
        "journal", help="read the DynamoDB journal mirror; compare it with the Kafka journal"
    )
    commands = journal.add_subparsers(dest="journal_command", required=True, metavar="COMMAND")

    history = add_command(commands, "history", _history)
    history.add_argument("thread_id", metavar="THREAD")
    history.add_argument(
        "--from-seq", type=int, default=1, metavar="N", help="first seq_nr (default 1)"
    )
    _common(history)

    verify = add_command(commands, "verify", _verify)
    verify.add_argument("--json", action="store_true", help="print one JSON object")
    verify.add_argument(
        "--limit", type=int, default=50, metavar="N", help="differences listed at most"
    )
    verify.add_argument(
        "--segments", type=int, default=4, metavar="N", help="parallel Scan segments"
    )
    _common(verify)
