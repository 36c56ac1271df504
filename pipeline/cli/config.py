"""`threadweaver config [--json]`: the effective configuration, every setting with its value
(secrets masked) and where it came from (environment, .env, a file, or the default).

It validates as the components do at start: a bad value exits 2 with the variable's name and
the rule.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys

from pipeline.cli.command import Subparsers, add_command


def _run(args: argparse.Namespace) -> int:
    """print the effective configuration (secrets masked) and where each value came from

    Every THREADWEAVER_* setting (and AWS_REGION): its value, secrets masked, and its source
    (environment, .env of the working directory, a file named by a ..._FILE variable, or the
    default). Exits 2 when a value is invalid.
    """
    from pipeline.settings import Settings, SettingsError  # noqa: PLC0415
    from pipeline.settings.base import ENV_FILE  # noqa: PLC0415
    from pipeline.settings.doc import effective, unknown  # noqa: PLC0415

    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"threadweaver config: {exc}", file=sys.stderr)
        return 2
    rows = effective(settings, os.environ, ENV_FILE)
    if args.json:
        sys.stdout.write(json.dumps([dataclasses.asdict(r) for r in rows], indent=2) + "\n")
    else:
        width = max(len(r.name) for r in rows)
        value_width = min(max(len(r.value) for r in rows), 48)
        print(f"{'VARIABLE':<{width}}  {'VALUE':<{value_width}}  SOURCE")
        for r in rows:
            print(f"{r.name:<{width}}  {r.value:<{value_width}}  {r.source}")
    for name in unknown(os.environ, ENV_FILE):
        print(f"note: {name} is set but no setting reads it", file=sys.stderr)
    return 0


def register(subparsers: Subparsers) -> None:
    parser = add_command(subparsers, "config", _run)
    parser.add_argument("--json", action="store_true", help="one JSON array instead of a table")
