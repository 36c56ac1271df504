"""`threadweaver db migrate`: apply the SQL migrations in schemas/sql (idempotent, versioned).

The database is `--dsn`, else THREADWEAVER_PG_DSN, else the local stack's (stack.json).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pipeline.cli.command import Subparsers, add_command
from pipeline.settings import PREFIX, Settings


def _dsn(args: argparse.Namespace) -> str | None:
    if args.dsn:
        return str(args.dsn)
    settings = Settings.from_env()
    if settings.pg_dsn:
        return settings.pg_dsn
    from pipeline.stack.stack import read_state  # noqa: PLC0415

    state = read_state(args.data_dir or settings.stack.data_dir)
    return state.endpoints.pg_dsn if state is not None else None


def _migrate(args: argparse.Namespace) -> int:
    """apply the migrations not applied yet (safe to run again, and concurrently)"""
    from pipeline.stack.errors import StackError  # noqa: PLC0415
    from pipeline.stack.migrate import apply_migrations_sync, discover  # noqa: PLC0415
    from pipeline.stack.provision import schemas_dir  # noqa: PLC0415

    try:
        dsn = _dsn(args)
        if dsn is None:
            print(
                f"threadweaver db: no database: pass --dsn, set {PREFIX}PG_DSN or start the "
                "local stack",
                file=sys.stderr,
            )
            return 2
        directory = args.schemas_dir / "sql" if args.schemas_dir else schemas_dir() / "sql"
        applied = apply_migrations_sync(dsn, directory)
        latest = max((m.version for m in discover(directory)), default=0)
    except (StackError, OSError) as exc:
        print(f"threadweaver db: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write(json.dumps({"applied": applied, "latest": latest}) + "\n")
    return 0


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser("db", help="the PostgreSQL read model's schema")
    actions = parser.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    migrate = add_command(actions, "migrate", _migrate)
    migrate.add_argument(
        "--dsn", help=f"PostgreSQL DSN (default: ${PREFIX}PG_DSN, else the stack's)"
    )
    migrate.add_argument(
        "--schemas-dir", type=Path, default=None, help="default: schemas/ of the source tree"
    )
    migrate.add_argument("--data-dir", type=Path, default=None, help="local stack directory")
