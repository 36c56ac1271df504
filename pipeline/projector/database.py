"""The projector's PostgreSQL connections, and which failures only mean "wait and reconnect"."""

from __future__ import annotations

import asyncpg

from pipeline.settings import Settings


async def connect(settings: Settings, role: str) -> asyncpg.Connection:
    return await asyncpg.connect(
        settings.required_pg_dsn("the projector"),
        timeout=10.0,
        server_settings={"application_name": f"threadweaver-{role}"},
    )


def is_connection_loss(exc: BaseException) -> bool:
    """The database went away or is not accepting connections yet (restart, failover)."""
    if isinstance(
        exc,
        OSError
        | TimeoutError
        | asyncpg.PostgresConnectionError
        | asyncpg.CannotConnectNowError
        | asyncpg.AdminShutdownError
        | asyncpg.CrashShutdownError
        # A connection broken under a running statement can leave asyncpg's protocol
        # mid-operation ("cannot switch to state 12"); a new connection is the way out.
        | asyncpg.InternalClientError,
    ):
        return True
    # asyncpg raises its InterfaceError for a connection closed under a running query.
    return isinstance(exc, asyncpg.InterfaceError) and "connection is closed" in str(exc)
