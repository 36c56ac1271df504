"""Reading the journal from given offsets up to fixed ends, with assign() (blocking: call it
from a thread). Used by `projector rebuild` (with the projector's group id, so it can commit
the group's offsets) and `projector verify` (a throw-away group, never committing)."""

from __future__ import annotations

import time
from collections.abc import Mapping

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from pipeline.kafka.config import consumer_config
from pipeline.kafka.offsets import end_offsets
from pipeline.kafka.records import Record, from_confluent
from pipeline.kafka.security import KafkaConnection

# Without progress for this long the broker is considered unavailable.
STALL_SECONDS = 60.0


class JournalStalledError(Exception):
    pass


def journal_ends(connection: KafkaConnection, topic: str, partitions: int) -> dict[int, int]:
    return end_offsets(connection, topic, range(partitions))


class JournalScanner:
    def __init__(
        self,
        connection: KafkaConnection,
        topic: str,
        *,
        group_id: str,
        starts: Mapping[int, int],
        ends: Mapping[int, int],
        batch_max: int = 2000,
    ) -> None:
        self._topic = topic
        self._ends = dict(ends)
        self._batch_max = batch_max
        self._consumer = Consumer(
            consumer_config(
                connection,
                group_id,
                f"{group_id}-scanner",
                **{"fetch.max.bytes": 52_428_800, "queued.min.messages": 100_000},
            )
        )
        self._remaining = {p for p, end in self._ends.items() if starts.get(p, 0) < end}
        if self._remaining:
            self._consumer.assign(
                [TopicPartition(topic, p, starts.get(p, 0)) for p in sorted(self._remaining)]
            )
        self._last_progress = time.monotonic()

    @property
    def done(self) -> bool:
        return not self._remaining

    def next_batch(self) -> list[Record]:
        """The next records below the ends (possibly none yet); [] once `done`."""
        while self._remaining:
            messages = self._consumer.consume(self._batch_max, 0.5)
            batch: list[Record] = []
            for message in messages:
                error = message.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        continue
                    raise KafkaException(error)
                record = from_confluent(message)
                end = self._ends.get(record.partition, 0)
                if record.offset < end:
                    batch.append(record)
                if record.offset >= end - 1 and record.partition in self._remaining:
                    self._remaining.discard(record.partition)
                    # Records past the end (appended since) are not ours to read.
                    self._consumer.pause([TopicPartition(self._topic, record.partition)])
            if batch:
                self._last_progress = time.monotonic()
                return batch
            if time.monotonic() - self._last_progress > STALL_SECONDS:
                raise JournalStalledError(
                    f"{self._topic}: no record for {STALL_SECONDS:.0f} s from partitions "
                    f"{sorted(self._remaining)}"
                )
        return []

    def commit(self, offsets: Mapping[int, int]) -> None:
        """Commit the group's next offsets (raises KafkaException if the group refuses)."""
        self._consumer.commit(
            offsets=[TopicPartition(self._topic, p, o) for p, o in sorted(offsets.items())],
            asynchronous=False,
        )

    def close(self) -> None:
        self._consumer.close()
