"""Where clients find the system: flags, then the settings (environment, .env), then the local
stack.json."""

from __future__ import annotations

import argparse

from pipeline.settings import PREFIX, Settings
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
    """Raises SettingsError (the CLI answers it with exit code 2)."""
    settings = Settings.from_env()
    if "bootstrap_servers" not in settings.model_fields_set:
        state = read_state(args.data_dir or settings.stack.data_dir)
        if state is not None:
            settings = state.endpoints.settings(settings)
    overrides: dict[str, object] = {}
    if getattr(args, "bootstrap_servers", None):
        overrides["bootstrap_servers"] = args.bootstrap_servers
    if getattr(args, "partitions", None):
        overrides["partitions"] = args.partitions
    return settings.replaced(**overrides) if overrides else settings
