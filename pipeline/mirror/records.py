"""A journal record as the mirror sees it, and how a record it cannot mirror is dead-lettered.

Dead letters go to `threadweaver.thread-events.conflicts` (kept forever): the original bytes
and key, plus reason headers (pipeline/kafka/dead_letters.py, the same as the command DLQ's).
"""

from __future__ import annotations

from enum import Enum

from pipeline.kafka.records import Record

# For a conflict: where the event that stays in DynamoDB came from.
STORED_EVENT_ID_HEADER = "threadweaver-stored-event-id"
STORED_PARTITION_HEADER = "threadweaver-stored-partition"
STORED_OFFSET_HEADER = "threadweaver-stored-offset"


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


def dead_letter_headers(
    record: Record,
    reason: DeadLetterReason,
    error: str,
    extra: tuple[tuple[str, str], ...] = (),
) -> list[tuple[str, bytes]]:
    return record.dead_letter_headers(
        reason.value, error, [(name, value.encode()) for name, value in extra]
    )
