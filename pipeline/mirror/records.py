"""A journal record as the mirror sees it, and how a record it cannot mirror is dead-lettered.

Dead letters go to `threadweaver.thread-events.conflicts` (kept forever): the original bytes
and key, plus reason headers. The header names match the command DLQ's, so one tool reads both.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

REASON_HEADER = "threadweaver-dlq-reason"
ERROR_HEADER = "threadweaver-dlq-error"
SOURCE_TOPIC_HEADER = "threadweaver-source-topic"
SOURCE_PARTITION_HEADER = "threadweaver-source-partition"
SOURCE_OFFSET_HEADER = "threadweaver-source-offset"
# For a conflict: where the event that stays in DynamoDB came from.
STORED_EVENT_ID_HEADER = "threadweaver-stored-event-id"
STORED_PARTITION_HEADER = "threadweaver-stored-partition"
STORED_OFFSET_HEADER = "threadweaver-stored-offset"

# Kafka headers carry the error text; a runaway library message must not bloat them.
_ERROR_MAX_BYTES = 4096


class DeadLetterReason(Enum):
    # A different event is already stored at the record's (thread_id, seq_nr).
    CONFLICT = "CONFLICT"
    # Not a ThreadEvent frame we can read.
    UNDECODABLE = "UNDECODABLE"
    # The key cannot be a DynamoDB key (empty or over-long thread id).
    INVALID_KEY = "INVALID_KEY"
    # The item would exceed DynamoDB's 400 KB item limit.
    ITEM_TOO_LARGE = "ITEM_TOO_LARGE"
    # DynamoDB refused the item on every one of the allowed attempts.
    REJECTED = "REJECTED"


@dataclass(frozen=True, slots=True)
class JournalRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()


def dead_letter_headers(
    record: JournalRecord,
    reason: DeadLetterReason,
    error: str,
    extra: tuple[tuple[str, str], ...] = (),
) -> list[tuple[str, bytes]]:
    return [
        *record.headers,
        (REASON_HEADER, reason.value.encode()),
        (ERROR_HEADER, error.encode()[:_ERROR_MAX_BYTES]),
        (SOURCE_TOPIC_HEADER, record.topic.encode()),
        (SOURCE_PARTITION_HEADER, str(record.partition).encode()),
        (SOURCE_OFFSET_HEADER, str(record.offset).encode()),
        *((name, value.encode()) for name, value in extra),
    ]
