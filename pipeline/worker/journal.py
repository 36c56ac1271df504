"""Reading a journal partition with confluent-kafka (fast, blocking: run it in a thread)."""

from __future__ import annotations

import time
from collections.abc import Iterator

from confluent_kafka import Consumer, KafkaError, TopicPartition

from pipeline.kafka.config import consumer_config
from pipeline.kafka.offsets import end_offsets
from pipeline.kafka.security import KafkaConnection

# Without progress for this long the broker is considered unavailable: crash and restart.
STALL_SECONDS = 60.0
# Never joined, never committed (assign() only); named in the worker's KafkaUser ACLs.
JOURNAL_READER_GROUP = "threadweaver-journal-reader"


class JournalStalledError(Exception):
    pass


class KafkaJournal:
    def __init__(self, connection: KafkaConnection, topic: str) -> None:
        self._connection = connection
        self._topic = topic

    def end_offset(self, partition: int) -> int:
        return end_offsets(self._connection, self._topic, [partition])[partition]

    def read(self, partition: int, start: int, end: int) -> Iterator[tuple[int, bytes]]:
        if start >= end:
            return
        consumer = Consumer(
            consumer_config(
                self._connection,
                group_id=JOURNAL_READER_GROUP,
                client_id=JOURNAL_READER_GROUP,
                **{"fetch.max.bytes": 52_428_800, "queued.min.messages": 100_000},
            )
        )
        try:
            consumer.assign([TopicPartition(self._topic, partition, start)])
            last_progress = time.monotonic()
            while True:
                messages = consumer.consume(num_messages=2_000, timeout=0.5)
                if not messages:
                    if time.monotonic() - last_progress > STALL_SECONDS:
                        raise JournalStalledError(
                            f"{self._topic}[{partition}]: no record between {start} and {end}"
                        )
                    continue
                last_progress = time.monotonic()
                for message in messages:
                    error = message.error()
                    if error is not None:
                        if error.code() == KafkaError._PARTITION_EOF:
                            continue
                        raise JournalStalledError(str(error))
                    offset = message.offset()
                    value = message.value()
                    if offset is None or value is None:
                        continue
                    if offset >= end:
                        return
                    yield offset, value
                    if offset >= end - 1:
                        return
        finally:
            consumer.close()
