"""The thin asyncpg side: one transaction per batch.

Lock the batch's threads (SELECT ... FOR UPDATE of their versions), read what the plan needs,
plan (pure), run the steps, commit. The row locks, and the primary key of `thread_events` for
threads not yet in the read model, make a second projector working on the same thread (a
zombie after a rebalance) wait and then see the new versions, or fail and retry: an event is
never applied twice.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import asyncpg

from pipeline.domain.ids import ThreadId
from pipeline.projector import metrics
from pipeline.projector.plan import (
    AppliedEvent,
    Outcome,
    StoredThread,
    ThreadPlan,
    lookup_keys,
    only,
    park_failed,
    plan_batch,
)
from pipeline.projector.records import JournalEvent
from pipeline.projector.statements import Step, apply_steps, park_steps, write_steps

log = logging.getLogger(__name__)

LOCK_VERSIONS = """
SELECT id, version FROM threads WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE
"""
PARKED = "SELECT thread_id FROM projector_parked_threads WHERE thread_id = ANY($1::text[])"
APPLIED = """
SELECT e.thread_id, e.seq_nr, e.event_id, e.command_id
FROM thread_events AS e
JOIN unnest($1::text[], $2::bigint[]) AS k(thread_id, seq_nr)
  ON e.thread_id = k.thread_id AND e.seq_nr = k.seq_nr
"""
# Another writer on the same threads (only a zombie projector can be one): retry afresh.
RACES = (
    asyncpg.exceptions.UniqueViolationError,
    asyncpg.exceptions.DeadlockDetectedError,
    asyncpg.exceptions.SerializationError,
)
RACE_ATTEMPTS = 3


class InvariantError(Exception):
    """A statement touched another number of rows than the plan implies: the read model was
    changed behind the projector's back."""


# What the database refuses because of the data of one thread (a value it cannot store, a
# constraint, a broken invariant): that thread is parked, the others go on.
THREAD_FAULTS = (
    asyncpg.exceptions.DataError,
    asyncpg.exceptions.IntegrityConstraintViolationError,
    InvariantError,
)


def _rows(status: str) -> int:
    # "UPDATE 3", "DELETE 0", "INSERT 0 5": the count is the last word.
    try:
        return int(status.rsplit(" ", 1)[-1])
    except ValueError:
        return -1


class Executor:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def apply(
        self, grouped: Mapping[ThreadId, Sequence[JournalEvent]]
    ) -> tuple[ThreadPlan, ...]:
        """Apply a batch in one transaction; returns the plan that was committed."""
        if not grouped:
            return ()
        for attempt in range(1, RACE_ATTEMPTS + 1):
            try:
                async with self._conn.transaction():
                    plans = await self._plan(grouped)
                    await self._run(write_steps(plans))
                return plans
            except RACES as exc:
                log.warning("batch raced another writer (attempt %d): %s", attempt, exc)
            except THREAD_FAULTS as exc:
                log.error("the database refused the batch (%s); retrying thread by thread", exc)
                break
        metrics.ISOLATED_BATCHES.inc()
        return await self._apply_isolated(grouped)

    async def _apply_isolated(
        self, grouped: Mapping[ThreadId, Sequence[JournalEvent]]
    ) -> tuple[ThreadPlan, ...]:
        """The slow path, one savepoint per thread and then per event: the thread of an event
        the database refuses is applied up to that event and parked there, so one bad event
        never stops its partition and where it stops does not depend on batch boundaries."""
        done: list[ThreadPlan] = []
        async with self._conn.transaction():
            for plan in await self._plan(grouped):
                if await self._try(apply_steps([plan])) is None:
                    done.append(plan)
                else:
                    done.append(await self._apply_event_by_event(plan))
                await self._run(park_steps([done[-1]]))
        return tuple(done)

    async def _apply_event_by_event(self, plan: ThreadPlan) -> ThreadPlan:
        for index, verdict in enumerate(plan.verdicts):
            if verdict.outcome is not Outcome.APPLIED:
                continue
            error = await self._try(apply_steps([only(plan, index)]))
            if error is not None:
                detail = f"the database refused the event: {type(error).__name__}: {error}"
                return park_failed(plan, detail[:1000], at=index)
        return plan

    async def _try(self, steps: Sequence[Step]) -> Exception | None:
        """Run `steps` in a savepoint; the fault that rolled it back, if any."""
        try:
            async with self._conn.transaction():
                await self._run(steps)
        except THREAD_FAULTS as exc:
            return exc
        return None

    async def _plan(
        self, grouped: Mapping[ThreadId, Sequence[JournalEvent]]
    ) -> tuple[ThreadPlan, ...]:
        ids = sorted(grouped)
        versions = {
            row["id"]: int(row["version"]) for row in await self._conn.fetch(LOCK_VERSIONS, ids)
        }
        parked = {row["thread_id"] for row in await self._conn.fetch(PARKED, ids)}
        stored = {t: StoredThread(versions.get(t, 0), t in parked) for t in ids}
        keys = lookup_keys(grouped, stored)
        applied: dict[tuple[ThreadId, int], AppliedEvent] = {}
        if keys:
            rows = await self._conn.fetch(APPLIED, [t for t, _ in keys], [s for _, s in keys])
            applied = {
                (row["thread_id"], int(row["seq_nr"])): AppliedEvent(
                    row["event_id"], row["command_id"]
                )
                for row in rows
            }
        return plan_batch(grouped, stored, applied)

    async def _run(self, steps: Sequence[Step]) -> None:
        for step in steps:
            if len(step.args) == 1:
                status = await self._conn.execute(step.sql, *step.args[0])
                if step.expect_rows is not None and _rows(status) != step.expect_rows:
                    raise InvariantError(
                        f"expected {step.expect_rows} rows, got {status!r} from "
                        f"{' '.join(step.sql.split()[:3])}"
                    )
            else:
                await self._conn.executemany(step.sql, step.args)
