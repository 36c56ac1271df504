"""The command record as the worker sees it, independent of the consumer library."""

from __future__ import annotations

from dataclasses import dataclass

# A client names the replies partition it listens to; without it the thread's partition is used.
REPLY_PARTITION_HEADER = "threadweaver-reply-partition"
DLQ_REASON_HEADER = "threadweaver-dlq-reason"
DLQ_ERROR_HEADER = "threadweaver-dlq-error"
DLQ_SOURCE_HEADERS = (
    "threadweaver-source-topic",
    "threadweaver-source-partition",
    "threadweaver-source-offset",
)


@dataclass(frozen=True, slots=True)
class CommandRecord:
    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()

    def header(self, name: str) -> bytes | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def reply_partition(self, partitions: int) -> int | None:
        raw = self.header(REPLY_PARTITION_HEADER)
        if raw is None:
            return None
        try:
            partition = int(raw)
        except ValueError:
            return None
        return partition if 0 <= partition < partitions else None

    def dead_letter_headers(self, reason: str, error: str) -> list[tuple[str, bytes]]:
        topic_h, partition_h, offset_h = DLQ_SOURCE_HEADERS
        return [
            *self.headers,
            (DLQ_REASON_HEADER, reason.encode()),
            (DLQ_ERROR_HEADER, error.encode()[:4096]),
            (topic_h, self.topic.encode()),
            (partition_h, str(self.partition).encode()),
            (offset_h, str(self.offset).encode()),
        ]
