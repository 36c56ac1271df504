"""Everything the components expect to exist: topics, the DynamoDB table, the SQL schema."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.settings import Settings
from pipeline.stack import dynamodb, topics
from pipeline.stack.errors import StackError
from pipeline.stack.migrate import apply_migrations_sync

SCHEMAS_ENV = Settings.variable("schemas_dir")


def schemas_dir() -> Path:
    """schemas/ of the source tree (next to the pipeline package), unless overridden."""
    path = Settings.from_env().schemas_path
    if not (path / "sql").is_dir() or not (path / "dynamodb").is_dir():
        raise StackError(f"no schemas/sql and schemas/dynamodb under {path} (set {SCHEMAS_ENV})")
    return path


@dataclass(frozen=True, slots=True)
class ProvisionReport:
    topics_created: tuple[str, ...]
    table_created: bool
    migrations_applied: tuple[int, ...]

    def summary(self) -> str:
        parts = [
            f"topics created: {', '.join(self.topics_created) or 'none (all present)'}",
            f"DynamoDB table: {'created' if self.table_created else 'present'}",
            "SQL migrations applied: "
            + (", ".join(map(str, self.migrations_applied)) or "none (up to date)"),
        ]
        return "; ".join(parts)


def provision(settings: Settings, schemas: Path | None = None) -> ProvisionReport:
    if settings.pg_dsn is None or settings.dynamodb_endpoint is None:
        raise StackError("provisioning needs a PostgreSQL DSN and a DynamoDB endpoint")
    root = schemas or schemas_dir()
    created = topics.ensure_topics(
        settings.kafka, topics.topic_specs(settings.topics), settings.partitions
    )
    definition = dynamodb.load_definition(
        root / "dynamodb" / "journal-table.json", settings.dynamodb_table
    )
    table_created = dynamodb.ensure_table(
        settings.dynamodb_endpoint, settings.aws_region, definition
    )
    applied = apply_migrations_sync(settings.pg_dsn, root / "sql")
    return ProvisionReport(tuple(created), table_created, tuple(applied))
