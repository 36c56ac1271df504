"""Dead letters: the original record (bytes, key, its own headers) plus why and from where.

One builder for every component (the worker's command DLQ, the mirror's and the projector's
conflicts topic), so the header names, the size cap and the rule below hold everywhere: a
record's own headers are kept, except any that pose as ours. Otherwise a producer could write
a command or journal record carrying `threadweaver-dlq-reason: CONFLICT` and forge the reason
or the source of its own dead letter.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

REASON_HEADER = "threadweaver-dlq-reason"
ERROR_HEADER = "threadweaver-dlq-error"
SOURCE_TOPIC_HEADER = "threadweaver-source-topic"
SOURCE_PARTITION_HEADER = "threadweaver-source-partition"
SOURCE_OFFSET_HEADER = "threadweaver-source-offset"
# Kafka headers carry the error text; a runaway library message must not bloat the record.
ERROR_MAX_BYTES = 4096
OWN_HEADERS = frozenset(
    {
        REASON_HEADER,
        ERROR_HEADER,
        SOURCE_TOPIC_HEADER,
        SOURCE_PARTITION_HEADER,
        SOURCE_OFFSET_HEADER,
    }
)

Headers = list[tuple[str, bytes]]


def dead_letter_headers(
    *,
    topic: str,
    partition: int,
    offset: int,
    headers: Iterable[tuple[str, bytes]],
    reason: str,
    error: str,
    extra: Sequence[tuple[str, bytes]] = (),
) -> Headers:
    """The headers of the dead letter of the record at topic/partition/offset.

    `extra`: component-specific evidence (a conflict's stored event, say); those names are
    stripped from the record's own headers too.
    """
    reserved = OWN_HEADERS | {name for name, _ in extra}
    return [
        *((name, value) for name, value in headers if name not in reserved),
        (REASON_HEADER, reason.encode()),
        (ERROR_HEADER, error.encode()[:ERROR_MAX_BYTES]),
        (SOURCE_TOPIC_HEADER, topic.encode()),
        (SOURCE_PARTITION_HEADER, str(partition).encode()),
        (SOURCE_OFFSET_HEADER, str(offset).encode()),
        *extra,
    ]
