"""The worker's view of the journal for catch-up: a partition's end and a range of it."""

from __future__ import annotations

from collections.abc import Iterator

from pipeline.kafka.offsets import end_offsets
from pipeline.kafka.scanner import PartitionScanner
from pipeline.kafka.security import KafkaConnection

# Never joined, never committed (assign() only); named in the worker's KafkaUser ACLs.
JOURNAL_READER_GROUP = "threadweaver-journal-reader"


class KafkaJournal:
    def __init__(self, connection: KafkaConnection, topic: str) -> None:
        self._connection = connection
        self._topic = topic

    def end_offset(self, partition: int) -> int:
        return end_offsets(self._connection, self._topic, [partition])[partition]

    def read(self, partition: int, start: int, end: int) -> Iterator[tuple[int, bytes]]:
        if start >= end:
            return
        with PartitionScanner(
            self._connection,
            self._topic,
            ends={partition: end},
            starts={partition: start},
            group_id=JOURNAL_READER_GROUP,
            client_id=JOURNAL_READER_GROUP,
        ) as scanner:
            for record in scanner:
                yield record.offset, record.value
