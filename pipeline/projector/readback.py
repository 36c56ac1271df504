"""The read model of some threads, read back as fold.ThreadView rows (tests, `verify`)."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Collection
from typing import TypeVar

import asyncpg

from pipeline.domain.ids import ThreadId
from pipeline.projector.fold import MessageRow, ParticipantRow, ThreadRow, ThreadView

THREADS = """
SELECT id, creator_id, parent_thread_id, title, remarks, created_at, updated_at, destroyed_at,
       version
FROM threads WHERE id = ANY($1::text[])
"""
ADMINISTRATORS = """
SELECT thread_id, account_id, joined_at FROM thread_administrators
WHERE thread_id = ANY($1::text[])
"""
MEMBERS = """
SELECT thread_id, account_id, joined_at FROM thread_members WHERE thread_id = ANY($1::text[])
"""
MESSAGES = """
SELECT thread_id, id, sender_id, text, reply_message_id, to_account_ids, created_at,
       removed_at, removed_by
FROM messages WHERE thread_id = ANY($1::text[])
"""
# Every thread the read model knows of, in any table: a thread the journal does not have may
# have left rows anywhere (a journal lost under a kept read model, say).
ALL_THREAD_IDS = """
SELECT id AS thread_id FROM threads
UNION SELECT thread_id FROM thread_events
UNION SELECT thread_id FROM projector_parked_threads
"""
PARKED = """
SELECT thread_id, reason FROM projector_parked_threads WHERE thread_id = ANY($1::text[])
"""


async def load_views(
    conn: asyncpg.Connection, thread_ids: Collection[ThreadId]
) -> dict[ThreadId, ThreadView]:
    ids = sorted(thread_ids)
    administrators: dict[ThreadId, list[ParticipantRow]] = defaultdict(list)
    for row in await conn.fetch(ADMINISTRATORS, ids):
        administrators[row["thread_id"]].append(_row(ParticipantRow, row))
    members: dict[ThreadId, list[ParticipantRow]] = defaultdict(list)
    for row in await conn.fetch(MEMBERS, ids):
        members[row["thread_id"]].append(_row(ParticipantRow, row))
    messages: dict[ThreadId, list[MessageRow]] = defaultdict(list)
    for row in await conn.fetch(MESSAGES, ids):
        messages[row["thread_id"]].append(
            _row(MessageRow, row, to_account_ids=tuple(row["to_account_ids"]))
        )
    views: dict[ThreadId, ThreadView] = {}
    for row in await conn.fetch(THREADS, ids):
        thread_id = row["id"]
        views[thread_id] = ThreadView.of(
            _row(ThreadRow, row, version=int(row["version"])),
            administrators[thread_id],
            members[thread_id],
            messages[thread_id],
        )
    return views


Row = TypeVar("Row", ThreadRow, ParticipantRow, MessageRow)


def _row(kind: type[Row], record: asyncpg.Record, **converted: object) -> Row:
    """A `kind` from the columns named as its fields (the queries above select them);
    `converted`: the values that need more than the column's."""
    return kind(**({f.name: record[f.name] for f in dataclasses.fields(kind)} | converted))


async def load_parked(
    conn: asyncpg.Connection, thread_ids: Collection[ThreadId]
) -> dict[ThreadId, str]:
    return {row["thread_id"]: row["reason"] for row in await conn.fetch(PARKED, sorted(thread_ids))}


async def load_thread_ids(conn: asyncpg.Connection) -> set[ThreadId]:
    return {ThreadId(row["thread_id"]) for row in await conn.fetch(ALL_THREAD_IDS)}
