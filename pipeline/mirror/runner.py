"""The journal consumer loop on confluent-kafka (ADR 0002 explains why not aiokafka/Faust).

consume a batch -> BatchMirror.process (DynamoDB and dead letters acknowledged) -> commit the
batch's offsets synchronously. The mirror keeps no per-partition state, so a rebalance needs
no handling: whoever owns a partition next starts from its committed offset, and records
mirrored twice are skipped as identical.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition

from pipeline.kafka.messages import poll_batch
from pipeline.kafka.records import Record, from_confluent
from pipeline.mirror import metrics
from pipeline.mirror.batch import BatchMirror

log = logging.getLogger(__name__)

GROUP_ID = "threadweaver-mirror"


class MirrorRunner:
    def __init__(self, consumer: Consumer, topic: str, mirror: BatchMirror, batch_max: int):
        self._consumer = consumer
        self._topic = topic
        self._mirror = mirror
        self._batch_max = batch_max
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        self._consumer.subscribe([self._topic], on_assign=_on_assign, on_revoke=_on_revoke)
        while not self._stop.is_set():
            messages = self._poll_batch()
            for message in messages:
                if message.error() is not None:
                    log.warning("consumer error: %s", message.error())
            records = [from_confluent(m) for m in messages if m.error() is None]
            if not records:
                continue
            log.debug("batch of %d records: mirroring", len(records))
            outcome = self._mirror.process(records)
            self._commit(records)
            log.debug("batch committed: %s", outcome)

    def close(self) -> None:
        self._consumer.close()

    def _poll_batch(self) -> list[Message]:
        return poll_batch(self._consumer, self._batch_max, 0.5)

    def _commit(self, records: Sequence[Record]) -> None:
        next_offsets: dict[int, int] = {}
        for record in records:
            next_offsets[record.partition] = record.offset + 1
        offsets = [TopicPartition(self._topic, p, o) for p, o in next_offsets.items()]
        try:
            self._consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            # Typically a partition revoked during the batch. Nothing is lost: the next owner
            # starts from the previous commit and finds these records' items stored.
            metrics.COMMIT_FAILURES.inc()
            log.warning("offset commit failed (%s): these records will be mirrored again", exc)
            return
        for partition, offset in next_offsets.items():
            # Cached: the high watermark the last Fetch response carried, no request per batch.
            _low, high = self._consumer.get_watermark_offsets(
                TopicPartition(self._topic, partition), cached=True
            )
            if high is not None and high >= 0:
                metrics.CONSUMER_LAG.labels(str(partition)).set(max(high - offset, 0))


def _on_assign(_consumer: Consumer, partitions: list[TopicPartition]) -> None:
    log.info("assigned partitions %s", sorted(tp.partition for tp in partitions))


def _on_revoke(_consumer: Consumer, partitions: list[TopicPartition]) -> None:
    log.info("revoked partitions %s", sorted(tp.partition for tp in partitions))
