"""An in-memory journal: the `Journal` protocol of pipeline/worker/catchup.py over lists.

tests/contracts/journal.py holds it to what KafkaJournal does on the real broker, so unit
tests can stand it in for a journal partition.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator


class ListJournal:
    """Partitions of records; offsets count from 0 in each, as in a fresh Kafka topic."""

    def __init__(self, records: Iterable[bytes] = ()) -> None:
        # `records` are partition 0's, the one partition most tests need.
        self.partitions: dict[int, list[bytes]] = {0: list(records)}

    def append(self, partition: int, values: Iterable[bytes]) -> list[int]:
        """Append `values` to `partition`; their offsets."""
        records = self.partitions.setdefault(partition, [])
        first = len(records)
        records.extend(values)
        return list(range(first, len(records)))

    def end_offset(self, partition: int) -> int:
        return len(self.partitions.get(partition, ()))

    def read(self, partition: int, start: int, end: int) -> Iterator[tuple[int, bytes]]:
        records = self.partitions.get(partition, [])
        for offset in range(start, end):
            yield offset, records[offset]
