"""Where clients find the system: flags, then the environment, then the local stack.json."""

from __future__ import annotations

import argparse
import dataclasses
import os

from pipeline.settings import PREFIX, Settings
from pipeline.stack.layout import default_data_dir
from pipeline.stack.stack import read_state


def add_endpoint_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("endpoints")
    group.add_argument(
        "--bootstrap-servers", help=f"Kafka bootstrap servers ({PREFIX}BOOTSTRAP_SERVERS)"
    )
    group.add_argument("--partitions", type=int, help=f"partition count ({PREFIX}PARTITIONS)")
    group.add_argument(
        "--data-dir",
        default=None,
        help="embedded stack directory whose stack.json is used when no broker is configured",
    )


def settings_from_args(args: argparse.Namespace) -> Settings:
    settings = Settings.from_env()
    if not os.environ.get(PREFIX + "BOOTSTRAP_SERVERS"):
        state = read_state(args.data_dir or default_data_dir())
        if state is not None:
            settings = state.endpoints.settings(settings)
    overrides: dict[str, object] = {}
    if getattr(args, "bootstrap_servers", None):
        overrides["bootstrap_servers"] = args.bootstrap_servers
    if getattr(args, "partitions", None):
        overrides["partitions"] = args.partitions
    return dataclasses.replace(settings, **overrides)  # type: ignore[arg-type]
