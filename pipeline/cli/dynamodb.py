"""`threadweaver dynamodb create-table`: the journal table from schemas/dynamodb, e.g. on AWS.

The embedded stack creates it by itself (`stack up`); this is for real AWS (region from
AWS_REGION, credentials from the default chain) or any server THREADWEAVER_DYNAMODB_ENDPOINT
names. Prints one JSON object; exit 0 created or present with the right key, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys

from pipeline.cli.endpoints import add_endpoint_arguments, settings_from_args


def _create_table(args: argparse.Namespace) -> int:
    # Imported here: boto3 and the stack's provisioning are slow to import.
    from pipeline.mirror.aws import dynamodb_client  # noqa: PLC0415
    from pipeline.stack.dynamodb import ensure_table_with, load_definition  # noqa: PLC0415
    from pipeline.stack.provision import schemas_dir  # noqa: PLC0415

    settings = settings_from_args(args)
    if args.table:
        settings = settings.replaced(dynamodb_table=args.table)
    result: dict[str, object] = {
        "table": settings.dynamodb_table,
        "region": settings.aws_region,
        "endpoint": settings.dynamodb_endpoint,
    }
    try:
        definition = load_definition(
            schemas_dir() / "dynamodb" / "journal-table.json", settings.dynamodb_table
        )
        client = dynamodb_client(settings, sdk_attempts=5)
        created = ensure_table_with(
            client,
            definition,
            delay_s=args.poll_s,
            max_attempts=max(1, int(args.wait_s / args.poll_s)),
        )
    except Exception as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"
        sys.stdout.write(json.dumps(result) + "\n")
        return 1
    result["created"] = created
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dynamodb = subparsers.add_parser("dynamodb", help="manage the DynamoDB journal table")
    commands = dynamodb.add_subparsers(dest="dynamodb_command", required=True, metavar="COMMAND")
    create = commands.add_parser(
        "create-table",
        help="create the journal table unless it exists (with the same key)",
        description=__doc__,
    )
    create.add_argument("--table", help="table name (default: $THREADWEAVER_DYNAMODB_TABLE)")
    create.add_argument(
        "--wait-s", type=float, default=300.0, help="how long to wait for it to be ACTIVE"
    )
    create.add_argument("--poll-s", type=float, default=2.0, help="seconds between checks")
    add_endpoint_arguments(create)
    create.set_defaults(handler=_create_table)
