"""`threadweaver mirror`: the journal mirror to DynamoDB (settings from the environment)."""

from __future__ import annotations

import argparse


def _run(_args: argparse.Namespace) -> int:
    # Imported here so that other commands do not pay for boto3 and the codec.
    from pipeline.mirror.main import main  # noqa: PLC0415

    main()


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "mirror",
        help="run the journal mirror to DynamoDB (THREADWEAVER_* environment; see README)",
        description="Consume threadweaver.thread-events (group threadweaver-mirror) and write "
        "each event once per (thread_id, seq_nr) to the DynamoDB table; conflicts and poison "
        "records go to threadweaver.thread-events.conflicts.",
    )
    parser.set_defaults(handler=_run)
