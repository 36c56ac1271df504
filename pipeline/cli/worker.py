"""`threadweaver worker`: the aggregate worker (settings from the environment)."""

from __future__ import annotations

import argparse


def _run(_args: argparse.Namespace) -> int:
    # Imported here so that other commands do not pay for importing Faust.
    from pipeline.worker.main import main  # noqa: PLC0415

    main()


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "worker",
        help="run the aggregate worker (THREADWEAVER_* environment; see README)",
    )
    parser.set_defaults(handler=_run)
