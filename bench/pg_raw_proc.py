"""The projector's limit: how fast this PostgreSQL takes the rows a journal adds.

    python -m bench.pg_raw_proc --bootstrap H:P --partitions P --dsn DSN --events N --out F

Reads the first N journal records, decodes them, and turns them into the rows their events
add (thread_events, threads, thread_administrators, thread_members, messages); then, timed,
COPYs them into copies of those tables with the same indexes, 2,000 events per transaction
(the projector's batch). No updates, no reads, no checks: an upper bound for any projector
writing this read model on this server.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from typing import Any

import asyncpg
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from bench.kafka import consumer_conf
from bench.processes import write_result
from pipeline.codec import CodecError, decode_event
from pipeline.domain import Event, MemberIdsJoined, MessagesAdded, ThreadCreated
from pipeline.settings import Topics

TABLES = ("thread_events", "threads", "thread_administrators", "thread_members", "messages")
BATCH = 2_000
Rows = dict[str, list[tuple[Any, ...]]]


def read_journal(bootstrap: str, partitions: int, count: int) -> list[tuple[int, int, Event]]:
    topic = Topics().events
    consumer = Consumer(consumer_conf(bootstrap, f"bench-pg-raw-{uuid.uuid4()}"))
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    events: list[tuple[int, int, Event]] = []
    idle_since = time.monotonic()
    while len(events) < count and time.monotonic() - idle_since < 10:
        batch = consumer.consume(1, 0.5)
        if batch:
            batch += consumer.consume(9_999, 0)
            idle_since = time.monotonic()
        for message in batch:
            value = message.value()
            if message.error() is not None or value is None:
                continue
            try:
                event = decode_event(value)
            except CodecError:
                continue
            events.append((message.partition() or 0, message.offset() or 0, event))
    consumer.close()
    return events[:count]


def rows_of(events: list[tuple[int, int, Event]]) -> Rows:
    rows: Rows = {table: [] for table in TABLES}
    for partition, offset, e in events:
        rows["thread_events"].append(
            (
                e.thread_id,
                e.seq_nr,
                e.event_id,
                e.command_id,
                e.name,
                e.occurred_at,
                partition,
                offset,
            )
        )
        body = e.body
        if isinstance(body, ThreadCreated):
            rows["threads"].append(
                (
                    e.thread_id,
                    body.creator_id,
                    body.parent_thread_id,
                    body.title,
                    body.remarks,
                    e.occurred_at,
                    e.occurred_at,
                    e.seq_nr,
                )
            )
            rows["thread_administrators"] += [
                (e.thread_id, a, e.occurred_at) for a in body.administrator_ids
            ]
            rows["thread_members"] += [(e.thread_id, m, e.occurred_at) for m in body.member_ids]
        elif isinstance(body, MemberIdsJoined):
            rows["thread_members"] += [(e.thread_id, m, e.occurred_at) for m in body.account_ids]
        elif isinstance(body, MessagesAdded):
            rows["messages"] += [
                (
                    e.thread_id,
                    m.message_id,
                    e.sender_id,
                    m.text,
                    m.reply_message_id,
                    list(m.to_account_ids),
                    e.occurred_at,
                )
                for m in body.messages
            ]
    return rows


COLUMNS = {
    "thread_events": (
        "thread_id", "seq_nr", "event_id", "command_id", "event_type", "occurred_at",
        "journal_partition", "journal_offset",
    ),
    "threads": (
        "id", "creator_id", "parent_thread_id", "title", "remarks", "created_at", "updated_at",
        "version",
    ),
    "thread_administrators": ("thread_id", "account_id", "joined_at"),
    "thread_members": ("thread_id", "account_id", "joined_at"),
    "messages": (
        "thread_id", "id", "sender_id", "text", "reply_message_id", "to_account_ids",
        "created_at",
    ),
}  # fmt: skip


async def copy_all(dsn: str, batches: list[Rows]) -> float:
    conn = await asyncpg.connect(dsn)
    try:
        for table in TABLES:
            # Same columns and indexes, no foreign keys: the copies are filled in any order.
            await conn.execute(
                f"DROP TABLE IF EXISTS bench_raw_{table}; "
                f"CREATE TABLE bench_raw_{table} (LIKE {table} INCLUDING ALL)"
            )
        started = time.perf_counter()
        for rows in batches:
            async with conn.transaction():
                for table in TABLES:
                    if rows[table]:
                        await conn.copy_records_to_table(
                            f"bench_raw_{table}", records=rows[table], columns=COLUMNS[table]
                        )
        seconds = time.perf_counter() - started
        for table in TABLES:
            await conn.execute(f"DROP TABLE bench_raw_{table}")
        return seconds
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--partitions", type=int, required=True)
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--events", type=int, required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    events = read_journal(args.bootstrap, args.partitions, args.events)
    batches = [rows_of(events[i : i + BATCH]) for i in range(0, len(events), BATCH)]
    seconds = asyncio.run(copy_all(args.dsn, batches))
    write_result(
        args.out,
        {
            "events": len(events),
            "rows": sum(len(rows) for b in batches for rows in b.values()),
            "seconds": seconds,
            "events_per_s": len(events) / seconds if seconds else None,
        },
    )


if __name__ == "__main__":
    main()
