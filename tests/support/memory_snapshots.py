"""An in-memory snapshot topic: the `SnapshotTopic` of pipeline/worker/snapshots.py over lists.

A round is appended whole when written; claiming a partition gives a writer of a new epoch,
and a writer of an older epoch is refused, as a fenced transactional producer is.
tests/contracts/snapshots.py holds it to what KafkaSnapshots does on the real broker.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence

from pipeline.kafka.producer import OutgoingRecord
from pipeline.kafka.records import Record


class FencedError(Exception):
    pass


class MemorySnapshotWriter:
    def __init__(self, topic: MemorySnapshots, partition: int, epoch: int) -> None:
        self._topic = topic
        self._partition = partition
        self._epoch = epoch
        self.closed = False

    def write_all(self, records: Sequence[OutgoingRecord]) -> None:
        if self._topic.epochs[self._partition] != self._epoch:
            raise FencedError(f"partition {self._partition}: epoch {self._epoch} was fenced")
        if self._topic.failing:
            raise FencedError("the test makes every round fail")
        log = self._topic.logs[self._partition]
        for record in records:
            assert record.partition == self._partition, "a round stays in its partition"
            log.append(
                Record(self._topic.topic, self._partition, len(log), record.key, record.value)
            )

    def close(self) -> None:
        self.closed = True


class MemorySnapshots:
    def __init__(self, topic: str = "snapshots") -> None:
        self._topic = topic
        self.logs: dict[int, list[Record]] = defaultdict(list)
        self.epochs: dict[int, int] = defaultdict(int)
        self.failing = False
        self.writers: list[MemorySnapshotWriter] = []

    @property
    def topic(self) -> str:
        return self._topic

    def claim(self, partition: int) -> MemorySnapshotWriter:
        self.epochs[partition] += 1
        writer = MemorySnapshotWriter(self, partition, self.epochs[partition])
        self.writers.append(writer)
        return writer

    def read(self, partition: int) -> Iterator[Record]:
        return iter(list(self.logs[partition]))
