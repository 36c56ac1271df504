"""`threadweaver mirror`: the journal mirror to DynamoDB (settings from the environment)."""

from __future__ import annotations

import argparse

from pipeline.cli.command import Subparsers, add_command


def _run(_args: argparse.Namespace) -> int:
    """run the journal mirror to DynamoDB (THREADWEAVER_* environment; see README)

    Consume threadweaver.thread-events (group threadweaver-mirror) and write each event once
    per (thread_id, seq_nr) to the DynamoDB table; conflicts and poison records go to
    threadweaver.thread-events.conflicts.
    """
    # Imported here so that other commands do not pay for boto3 and the codec.
    from pipeline.mirror.main import main  # noqa: PLC0415

    main()


def register(subparsers: Subparsers) -> None:
    add_command(subparsers, "mirror", _run)
