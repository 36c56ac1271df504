"""Reading partitions of a topic from given offsets up to fixed ends: the one journal and topic
reader (catch-up, verify, `projector rebuild`, history, the tests); and following one partition
from an offset on, with no end (the client's reply listener).

The consumer is assigned, never subscribes, so it joins no group; it commits only when asked
(`projector rebuild` moves its group's offsets). Blocking: call it from a thread.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Mapping
from types import TracebackType

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)

from pipeline.kafka.config import consumer_config
from pipeline.kafka.offsets import end_offsets
from pipeline.kafka.records import Record, from_confluent
from pipeline.kafka.security import KafkaConnection

log = logging.getLogger(__name__)

# Without a record for this long from a partition that should have more, the broker is
# considered unavailable: callers crash (and are restarted) rather than wait forever.
STALL_SECONDS = 60.0
# Large fetches: a scan reads history, where throughput matters and latency does not.
SCAN_CONSUMER_CONFIG = {"fetch.max.bytes": 52_428_800, "queued.min.messages": 100_000}


class ScanStalledError(TimeoutError):
    pass


def _take(consumer: Consumer, most: int, timeout_s: float) -> list[Message]:
    """Up to `most` messages, waiting up to `timeout_s` for the first one only.

    consume(n, timeout) returns once n messages came or the timeout passed, not with the
    first: the last, partial batch of every scan waited the whole timeout (0.5 s per read of
    a partition's tail, measured on the worker's catch-up)."""
    messages = consumer.consume(1, timeout_s)
    if messages and most > 1:
        messages += consumer.consume(most - 1, 0)
    return messages


class PartitionScanner:
    """The records of `topic` at offsets [starts[p], ends[p]) of each partition p of `ends`.

    A partition missing from `starts` is read from its beginning (its first retained record).
    """

    def __init__(
        self,
        connection: KafkaConnection,
        topic: str,
        *,
        ends: Mapping[int, int],
        group_id: str,
        starts: Mapping[int, int] | None = None,
        client_id: str | None = None,
        batch_max: int = 2000,
        stall_s: float = STALL_SECONDS,
    ) -> None:
        self._topic = topic
        self._ends = dict(ends)
        self._batch_max = batch_max
        self._stall_s = stall_s
        starts = starts or {}
        self._remaining = {p for p, end in self._ends.items() if starts.get(p, 0) < end}
        self._consumer = Consumer(
            consumer_config(
                connection, group_id, client_id or f"{group_id}-scanner", **SCAN_CONSUMER_CONFIG
            )
        )
        if self._remaining:
            self._consumer.assign(
                [
                    TopicPartition(topic, p, starts.get(p, OFFSET_BEGINNING))
                    for p in sorted(self._remaining)
                ]
            )
        self._last_progress = time.monotonic()

    @property
    def done(self) -> bool:
        return not self._remaining

    def next_batch(self) -> list[Record]:
        """The next records below the ends (waiting for at least one); [] once `done`.

        Raises ScanStalledError after `stall_s` without a record, KafkaException for a
        consumer error that waiting cannot fix.
        """
        while self._remaining:
            batch: list[Record] = []
            for message in _take(self._consumer, self._batch_max, 0.5):
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
            if time.monotonic() - self._last_progress > self._stall_s:
                raise ScanStalledError(
                    f"{self._topic}: no record for {self._stall_s:.0f} s from partitions "
                    f"{sorted(self._remaining)} (ends {self._ends})"
                )
        return []

    def __iter__(self) -> Iterator[Record]:
        while not self.done:
            yield from self.next_batch()

    def commit(self, offsets: Mapping[int, int]) -> None:
        """Commit the group's next offsets (raises KafkaException if the group refuses)."""
        self._consumer.commit(
            offsets=[TopicPartition(self._topic, p, o) for p, o in sorted(offsets.items())],
            asynchronous=False,
        )

    def close(self) -> None:
        self._consumer.close()

    def __enter__(self) -> PartitionScanner:
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.close()


def scan(
    connection: KafkaConnection,
    topic: str,
    partitions: Iterable[int],
    *,
    group_id: str,
    starts: Mapping[int, int] | None = None,
    stall_s: float = STALL_SECONDS,
) -> Iterator[Record]:
    """Every record of `partitions` from `starts` (default: the beginning) up to their ends at
    the time of the call."""
    ends = end_offsets(connection, topic, partitions)
    with PartitionScanner(
        connection, topic, ends=ends, group_id=group_id, starts=starts, stall_s=stall_s
    ) as scanner:
        yield from scanner


class PartitionTail:
    """The records of one partition from `start` on, as they arrive."""

    def __init__(
        self,
        connection: KafkaConnection,
        topic: str,
        partition: int,
        start: int,
        *,
        group_id: str,
        client_id: str | None = None,
    ) -> None:
        self._consumer = Consumer(consumer_config(connection, group_id, client_id or group_id))
        self._consumer.assign([TopicPartition(topic, partition, start)])

    def poll(self, timeout_s: float, max_records: int = 500) -> list[Record]:
        """What arrived, waiting up to `timeout_s` for the first record only. A consumer
        error is logged and skipped: librdkafka recovers from it by itself (a broker
        restart, say)."""
        messages = _take(self._consumer, max_records, timeout_s)
        records: list[Record] = []
        for message in messages:
            if message.error() is not None:
                log.warning("consumer error: %s", message.error())
                continue
            records.append(from_confluent(message))
        return records

    def close(self) -> None:
        self._consumer.close()


def read_committed(
    connection: KafkaConnection,
    topic: str,
    partition: int,
    *,
    group_id: str,
    stall_s: float = STALL_SECONDS,
) -> Iterator[Record]:
    """Every committed record of one partition, from its beginning up to its last stable
    offset at the time of the call.

    For topics written in transactions: a partition's last offsets may be commit markers that
    no consumer receives, so the scan ends when the consumer's position reaches the end, not
    at a record at end - 1. It starts at offset 0, not OFFSET_BEGINNING (which librdkafka
    resolves 0.5 s later; a compacted topic keeps its offsets from 0), and disregards an
    end-of-partition event that comes before the first fetch (librdkafka sends one with an
    unknown position).
    """
    end = end_offsets(connection, topic, [partition], committed=True)[partition]
    if end == 0:
        return
    consumer = Consumer(
        consumer_config(
            connection,
            group_id,
            group_id,
            **SCAN_CONSUMER_CONFIG,
            **{
                "isolation.level": "read_committed",
                "enable.partition.eof": True,
                # The end of a partition is known from an empty fetch: do not wait for more.
                "fetch.wait.max.ms": 10,
            },
        )
    )
    tp = TopicPartition(topic, partition)
    try:
        consumer.assign([TopicPartition(topic, partition, 0)])
        last_progress = time.monotonic()
        while True:
            messages = _take(consumer, 2000, 0.5)
            for message in messages:
                error = message.error()
                if error is None:
                    record = from_confluent(message)
                    if record.offset < end:
                        yield record
                    if record.offset >= end - 1:
                        return
                elif error.code() != KafkaError._PARTITION_EOF:
                    raise KafkaException(error)
                elif consumer.position([tp])[0].offset >= end:
                    return
            if messages:
                last_progress = time.monotonic()
            elif time.monotonic() - last_progress > stall_s:
                raise ScanStalledError(
                    f"{topic}[{partition}]: not at its end {end} after {stall_s:.0f} s"
                )
    finally:
        consumer.close()
