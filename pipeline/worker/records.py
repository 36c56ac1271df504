"""The command record as the worker sees it, independent of the consumer library."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.kafka.dead_letters import dead_letter_headers

# A client names the replies partition it listens to; without it the thread's partition is used.
REPLY_PARTITION_HEADER = "threadweaver-reply-partition"
# A dead letter is the command record plus its reason headers (at most ~4.4 kB,
# pipeline/kafka/dead_letters.py), so with the
# limit every client has (librdkafka's message.max.bytes, 1,000,000 bytes) the copy of a record
# a client could just write would be refused, and the worker would stop on that record after
# every restart. The worker's producer takes 1 MiB: room for the headers, and still under
# Apache Kafka's default record limit of a broker and topic (1,048,588 bytes).
WORKER_PRODUCER_CONFIG = {"message.max.bytes": 1_048_576}


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
        return dead_letter_headers(
            topic=self.topic,
            partition=self.partition,
            offset=self.offset,
            headers=self.headers,
            reason=reason,
            error=error,
        )
