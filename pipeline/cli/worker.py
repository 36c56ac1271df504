"""`threadweaver worker`: the aggregate worker (settings from the environment)."""

from __future__ import annotations

import argparse

from pipeline.cli.command import Subparsers, add_command


def _run(_args: argparse.Namespace) -> int:
    """run the aggregate worker (THREADWEAVER_* environment; see README)"""
    # Imported here so that other commands do not pay for importing Faust.
    from pipeline.worker.main import main  # noqa: PLC0415

    main()


def register(subparsers: Subparsers) -> None:
    add_command(subparsers, "worker", _run)
