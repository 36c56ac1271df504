"""Who may write the read model of one database: projectors together, or one rebuild alone.

Each running projector holds a shared session-level advisory lock for its lifetime; a
rebuild takes it exclusively. The lock lives in the same database as the read model and is
released by PostgreSQL when the holder's session ends, SIGKILL included, so it needs no
cleanup: a rebuild refuses to start while any projector of this database runs, and a
projector started during a rebuild waits for it to finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import asyncpg

log = logging.getLogger(__name__)

# Any fixed 64-bit number; this one spells "twprojct" in ASCII.
ADVISORY_LOCK_KEY = int.from_bytes(b"twprojct", "big") & 0x7FFF_FFFF_FFFF_FFFF
WAIT_LOG_INTERVAL_S = 10.0


async def hold_shared(conn: asyncpg.Connection, stop: asyncio.Event) -> bool:
    """Take the projectors' shared lock, waiting while a rebuild runs; False if stopped."""
    last_log = 0.0
    while not stop.is_set():
        if await conn.fetchval("SELECT pg_try_advisory_lock_shared($1)", ADVISORY_LOCK_KEY):
            return True
        if time.monotonic() - last_log >= WAIT_LOG_INTERVAL_S:
            log.warning("a `projector rebuild` is running on this database: waiting for it")
            last_log = time.monotonic()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=1.0)
    return False


async def try_exclusive(conn: asyncpg.Connection) -> bool:
    return bool(await conn.fetchval("SELECT pg_try_advisory_lock($1)", ADVISORY_LOCK_KEY))


async def release_exclusive(conn: asyncpg.Connection) -> None:
    await conn.execute("SELECT pg_advisory_unlock($1)", ADVISORY_LOCK_KEY)
