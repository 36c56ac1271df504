"""The read side of the DynamoDB journal: a thread's events, in seq_nr order, decoded."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from pipeline.codec import decode_event
from pipeline.domain import Event
from pipeline.mirror.items import (
    JOURNAL_OFFSET,
    JOURNAL_PARTITION,
    SEQ_NR,
    THREAD_ID,
    Item,
    event_bytes,
    number,
    occurred_at_text,
)

PAGE_SIZE = 500


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    event: Event
    journal_partition: int | None
    journal_offset: int | None


def query_items(
    client: Any,
    table: str,
    thread_id: str,
    from_seq: int = 1,
    *,
    page_size: int = PAGE_SIZE,
    consistent: bool = True,
) -> Iterator[Item]:
    """The thread's items from `from_seq` on, one Query page at a time."""
    request: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "#t = :t AND #s >= :s",
        "ExpressionAttributeNames": {"#t": THREAD_ID, "#s": SEQ_NR},
        "ExpressionAttributeValues": {":t": {"S": thread_id}, ":s": {"N": str(from_seq)}},
        "ConsistentRead": consistent,
        "Limit": page_size,
    }
    while True:
        response = client.query(**request)
        yield from response.get("Items", [])
        last = response.get("LastEvaluatedKey")
        if not last:
            return
        request["ExclusiveStartKey"] = last


def history(
    client: Any,
    table: str,
    thread_id: str,
    from_seq: int = 1,
    *,
    decode: Callable[[bytes], Event] = decode_event,
    page_size: int = PAGE_SIZE,
) -> Iterator[HistoryEntry]:
    for item in query_items(client, table, thread_id, from_seq, page_size=page_size):
        yield HistoryEntry(
            decode(event_bytes(item)),
            number(item, JOURNAL_PARTITION),
            number(item, JOURNAL_OFFSET),
        )


def entry_json(entry: HistoryEntry) -> dict[str, Any]:
    event = entry.event
    return {
        "thread_id": event.thread_id,
        "seq_nr": event.seq_nr,
        "event_type": event.name,
        "event_id": event.event_id,
        "command_id": event.command_id,
        "command_offset": event.command_offset,
        "sender_id": event.sender_id,
        "occurred_at": occurred_at_text(event.occurred_at),
        "body": dataclasses.asdict(event.body),
        "journal_partition": entry.journal_partition,
        "journal_offset": entry.journal_offset,
    }
