"""Apply the SQL migrations in schemas/sql once each, in version order.

Files are named `NNNN_description.sql`. Each runs in its own transaction together with the
row that records it in `schema_migrations`, so a migration is either applied and recorded or
neither; a session-level advisory lock lets several processes (the stack, a k8s Job, tests)
run this at once without applying anything twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from pipeline.stack.aio import run_sync
from pipeline.stack.errors import StackError

_FILE = re.compile(r"^(?P<version>\d{4})_[A-Za-z0-9_-]+\.sql$")
# Any fixed 64-bit number; this one spells "twmigrat" in ASCII.
ADVISORY_LOCK_KEY = int.from_bytes(b"twmigrat", "big") & 0x7FFF_FFFF_FFFF_FFFF

_BOOTSTRAP = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer     PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


@dataclass(frozen=True, slots=True, order=True)
class Migration:
    version: int
    path: Path


def discover(directory: Path) -> list[Migration]:
    migrations: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE.match(path.name)
        if match is None:
            raise StackError(f"{path}: migration files are named NNNN_description.sql")
        version = int(match["version"])
        if version in migrations:
            raise StackError(f"two migrations with version {version}: {migrations[version].path}")
        migrations[version] = Migration(version, path)
    return sorted(migrations.values())


async def apply_migrations(dsn: str, directory: Path) -> list[int]:
    """Apply what is not applied yet; returns the versions applied by this call."""
    migrations = discover(directory)
    conn = await asyncpg.connect(dsn, timeout=10.0)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", ADVISORY_LOCK_KEY)
        try:
            await conn.execute(_BOOTSTRAP)
            rows = await conn.fetch("SELECT version FROM schema_migrations")
            done = {int(row["version"]) for row in rows}
            applied: list[int] = []
            for migration in migrations:
                if migration.version in done:
                    continue
                async with conn.transaction():
                    try:
                        await conn.execute(migration.path.read_text())
                    except asyncpg.PostgresError as exc:
                        raise StackError(f"migration {migration.path} failed: {exc}") from exc
                    await conn.execute(
                        "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, now())",
                        migration.version,
                    )
                applied.append(migration.version)
            return applied
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", ADVISORY_LOCK_KEY)
    finally:
        await conn.close()


def apply_migrations_sync(dsn: str, directory: Path) -> list[int]:
    return run_sync(lambda: apply_migrations(dsn, directory))
