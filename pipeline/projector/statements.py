"""Event -> SQL statements, and a batch plan -> the steps the executor runs. Pure.

Every statement of an event touches only rows of that event's thread (the first argument is
always the thread id). So statements of different threads commute, and `schedule` may run
the k-th statement of many threads as one `executemany` while each thread's own statements
keep their order. Upserts on natural keys make a statement's effect the same as evolve's
(pipeline/domain/evolve.py), which never validates: whatever the journal says is applied.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, assert_never, cast

from pipeline.domain import Event, events
from pipeline.domain.ids import ThreadId
from pipeline.projector.plan import Outcome, Park, ThreadPlan


class Statement(NamedTuple):
    sql: str
    args: tuple[object, ...]


class Step(NamedTuple):
    """One round trip: `sql` once per argument tuple (asyncpg's executemany pipelines them)."""

    sql: str
    args: list[tuple[object, ...]]
    # For a single statement: the row count it must report, or an invariant is broken.
    expect_rows: int | None = None


def pg_text(value: str) -> str:
    """PostgreSQL text cannot hold NUL, and the domain accepts it in titles, remarks and
    message texts: stored as U+FFFD so such an event projects instead of stopping the
    projector (ids are ULIDs, checked before planning)."""
    return value.replace("\x00", "\ufffd") if "\x00" in value else value


def _pg_text_or_none(value: str | None) -> str | None:
    return None if value is None else pg_text(value)


# --- per event ------------------------------------------------------------------------------

DELETE_ADMINISTRATORS = "DELETE FROM thread_administrators WHERE thread_id = $1"
DELETE_MEMBERS = "DELETE FROM thread_members WHERE thread_id = $1"
DELETE_MESSAGES = "DELETE FROM messages WHERE thread_id = $1"
UPSERT_THREAD = """
INSERT INTO threads (id, creator_id, parent_thread_id, title, remarks, created_at, updated_at,
                     destroyed_at, version)
VALUES ($1, $2, $3, $4, $5, $6, $6, NULL, $7)
ON CONFLICT (id) DO UPDATE SET
    creator_id = EXCLUDED.creator_id, parent_thread_id = EXCLUDED.parent_thread_id,
    title = EXCLUDED.title, remarks = EXCLUDED.remarks, created_at = EXCLUDED.created_at,
    updated_at = EXCLUDED.updated_at, destroyed_at = NULL, version = EXCLUDED.version
"""
DESTROY_THREAD = "UPDATE threads SET destroyed_at = $2 WHERE id = $1 AND destroyed_at IS NULL"
JOIN_ADMINISTRATORS = """
INSERT INTO thread_administrators (thread_id, account_id, joined_at)
SELECT $1, account_id, $3 FROM unnest($2::text[]) AS account_id
ON CONFLICT (thread_id, account_id) DO NOTHING
"""
LEAVE_ADMINISTRATORS = (
    "DELETE FROM thread_administrators WHERE thread_id = $1 AND account_id = ANY($2::text[])"
)
JOIN_MEMBERS = """
INSERT INTO thread_members (thread_id, account_id, joined_at)
SELECT $1, account_id, $3 FROM unnest($2::text[]) AS account_id
ON CONFLICT (thread_id, account_id) DO NOTHING
"""
LEAVE_MEMBERS = "DELETE FROM thread_members WHERE thread_id = $1 AND account_id = ANY($2::text[])"
UPSERT_MESSAGE = """
INSERT INTO messages (thread_id, id, sender_id, text, reply_message_id, to_account_ids,
                      created_at, removed_at, removed_by)
VALUES ($1, $2, $3, $4, $5, $6::text[], $7, NULL, NULL)
ON CONFLICT (thread_id, id) DO UPDATE SET
    sender_id = EXCLUDED.sender_id, text = EXCLUDED.text,
    reply_message_id = EXCLUDED.reply_message_id, to_account_ids = EXCLUDED.to_account_ids,
    created_at = EXCLUDED.created_at, removed_at = NULL, removed_by = NULL
"""
# UPSERT_MESSAGE for many rows in one statement: a step holds at most one statement per
# thread, so no row is upserted twice by it. Recipient lists are ragged, which unnest cannot
# take as a 2-D array: they travel comma-joined (ULIDs hold no comma; a list that does falls
# back to UPSERT_MESSAGE per row). One statement instead of one execution per message cut
# PostgreSQL's share of a projector batch (issue 7).
UPSERT_MESSAGES = """
INSERT INTO messages (thread_id, id, sender_id, text, reply_message_id, to_account_ids,
                      created_at, removed_at, removed_by)
SELECT v.thread_id, v.id, v.sender_id, v.text, v.reply_message_id,
       string_to_array(v.to_account_ids, ','), v.created_at, NULL, NULL
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
            $7::timestamptz[])
     AS v(thread_id, id, sender_id, text, reply_message_id, to_account_ids, created_at)
ON CONFLICT (thread_id, id) DO UPDATE SET
    sender_id = EXCLUDED.sender_id, text = EXCLUDED.text,
    reply_message_id = EXCLUDED.reply_message_id, to_account_ids = EXCLUDED.to_account_ids,
    created_at = EXCLUDED.created_at, removed_at = NULL, removed_by = NULL
"""
# The first removal wins, like evolve: removing a removed message changes nothing.
REMOVE_MESSAGES = """
UPDATE messages SET removed_at = $3, removed_by = $4
WHERE thread_id = $1 AND id = ANY($2::text[]) AND removed_at IS NULL
"""


def event_statements(event: Event) -> list[Statement]:
    """The writes that apply `event`'s body; the version and the event's identity are
    written per batch (`write_steps`)."""
    thread, at = event.thread_id, event.occurred_at
    body = event.body
    match body:
        case events.ThreadCreated():
            # A second ThreadCreated (only in a corrupt journal) starts the thread afresh, as
            # evolve does: nothing of the old membership or messages survives.
            return [
                Statement(DELETE_ADMINISTRATORS, (thread,)),
                Statement(DELETE_MEMBERS, (thread,)),
                Statement(DELETE_MESSAGES, (thread,)),
                Statement(
                    UPSERT_THREAD,
                    (
                        thread,
                        body.creator_id,
                        body.parent_thread_id,
                        pg_text(body.title),
                        _pg_text_or_none(body.remarks),
                        at,
                        event.seq_nr,
                    ),
                ),
                Statement(JOIN_ADMINISTRATORS, (thread, list(body.administrator_ids), at)),
                Statement(JOIN_MEMBERS, (thread, list(body.member_ids), at)),
            ]
        case events.ThreadDestroyed():
            return [Statement(DESTROY_THREAD, (thread, at))]
        case events.AdministratorIdsJoined():
            return [Statement(JOIN_ADMINISTRATORS, (thread, list(body.account_ids), at))]
        case events.AdministratorIdsLeft():
            return [Statement(LEAVE_ADMINISTRATORS, (thread, list(body.account_ids)))]
        case events.MemberIdsJoined():
            return [Statement(JOIN_MEMBERS, (thread, list(body.account_ids), at))]
        case events.MemberIdsLeft():
            return [Statement(LEAVE_MEMBERS, (thread, list(body.account_ids)))]
        case events.MessagesAdded():
            return [
                Statement(
                    UPSERT_MESSAGE,
                    (
                        thread,
                        added.message_id,
                        event.sender_id,
                        pg_text(added.text),
                        added.reply_message_id,
                        list(added.to_account_ids),
                        at,
                    ),
                )
                for added in body.messages
            ]
        case events.MessagesRemoved():
            return [
                Statement(REMOVE_MESSAGES, (thread, list(body.message_ids), at, event.sender_id))
            ]
        case _:
            assert_never(body)


# --- per batch ------------------------------------------------------------------------------

BUMP_VERSIONS = """
UPDATE threads AS t SET version = v.version, updated_at = v.updated_at
FROM unnest($1::text[], $2::bigint[], $3::timestamptz[]) AS v(id, version, updated_at)
WHERE t.id = v.id
"""
RECORD_EVENTS = """
INSERT INTO thread_events (thread_id, seq_nr, event_id, command_id, event_type, occurred_at,
                           journal_partition, journal_offset)
SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[],
                     $6::timestamptz[], $7::integer[], $8::bigint[])
"""
PARK_THREAD = """
INSERT INTO projector_parked_threads (thread_id, reason, detail, version, found_seq_nr,
                                      found_event_id, journal_partition, journal_offset)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (thread_id) DO NOTHING
"""
COUNT_SKIPPED = """
UPDATE projector_parked_threads AS p
SET skipped_events = p.skipped_events + v.skipped, last_skipped_seq_nr = v.last_seq_nr
FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS v(thread_id, skipped, last_seq_nr)
WHERE p.thread_id = v.thread_id
"""


def schedule(per_thread: Sequence[Sequence[Statement]]) -> list[Step]:
    """Run the k-th statement of every thread together, grouped by SQL text.

    Within a step each thread has at most one statement, and statements of different threads
    commute, so the result equals running each thread's statements one by one; a batch of
    many threads costs a few round trips instead of one per statement.
    """
    steps: list[Step] = []
    depth = max((len(statements) for statements in per_thread), default=0)
    for k in range(depth):
        groups: dict[str, list[tuple[object, ...]]] = {}
        for statements in per_thread:
            if k < len(statements):
                sql, args = statements[k]
                groups.setdefault(sql, []).append(args)
        steps.extend(_columnar(Step(sql, args)) for sql, args in groups.items())
    return steps


def _columnar(step: Step) -> Step:
    """Many rows of UPSERT_MESSAGE as one UPSERT_MESSAGES statement, when they can travel."""
    if step.sql != UPSERT_MESSAGE or len(step.args) < 2:
        return step
    recipients = [cast(list[str], args[5]) for args in step.args]
    if any("," in account for accounts in recipients for account in accounts):
        return step
    columns = [list(column) for column in zip(*step.args, strict=True)]
    columns[5] = [",".join(accounts) for accounts in recipients]
    return Step(UPSERT_MESSAGES, [tuple(columns)])


def _park_args(park: Park) -> tuple[object, ...]:
    record, event = park.item.record, park.item.event
    return (
        park.thread_id,
        park.reason.value,
        park.detail,
        park.version,
        event.seq_nr,
        event.event_id,
        record.partition,
        record.offset,
    )


def write_steps(plans: Sequence[ThreadPlan]) -> list[Step]:
    """Everything a batch writes, in order: the events' effects, the new versions, the
    applied events' identities, then parking."""
    return apply_steps(plans) + park_steps(plans)


def apply_steps(plans: Sequence[ThreadPlan]) -> list[Step]:
    applying = [plan for plan in plans if plan.to_apply]
    steps = schedule(
        [[s for event in plan.to_apply for s in event_statements(event)] for plan in applying]
    )
    if applying:
        last = [plan.to_apply[-1] for plan in applying]
        steps.append(
            Step(
                BUMP_VERSIONS,
                [
                    (
                        [e.thread_id for e in last],
                        [e.seq_nr for e in last],
                        [e.occurred_at for e in last],
                    )
                ],
                expect_rows=len(last),
            )
        )
        applied = [
            v.item for plan in applying for v in plan.verdicts if v.outcome is Outcome.APPLIED
        ]
        steps.append(
            Step(
                RECORD_EVENTS,
                [
                    (
                        [i.event.thread_id for i in applied],
                        [i.event.seq_nr for i in applied],
                        [i.event.event_id for i in applied],
                        [i.event.command_id for i in applied],
                        [i.event.name for i in applied],
                        [i.event.occurred_at for i in applied],
                        [i.record.partition for i in applied],
                        [i.record.offset for i in applied],
                    )
                ],
                expect_rows=len(applied),
            )
        )
    return steps


def park_steps(plans: Sequence[ThreadPlan]) -> list[Step]:
    steps: list[Step] = []
    parks = [plan.park for plan in plans if plan.park is not None]
    if parks:
        steps.append(Step(PARK_THREAD, [_park_args(park) for park in parks]))
    skipped: dict[ThreadId, tuple[int, int]] = {}
    for plan in plans:
        verdicts = plan.skipped_by_park
        if verdicts:
            skipped[plan.thread_id] = (len(verdicts), max(v.event.seq_nr for v in verdicts))
    if skipped:
        steps.append(
            Step(
                COUNT_SKIPPED,
                [
                    (
                        list(skipped),
                        [count for count, _ in skipped.values()],
                        [last for _, last in skipped.values()],
                    )
                ],
                expect_rows=len(skipped),
            )
        )
    return steps
