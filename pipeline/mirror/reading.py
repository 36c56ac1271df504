"""Read a whole topic, every partition up to its end at the time of the call (for `verify`).

The consumer is assigned, never joins a group and never commits.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition

from pipeline.kafka.config import consumer_config
from pipeline.kafka.offsets import end_offsets
from pipeline.kafka.records import Record, from_confluent
from pipeline.kafka.security import KafkaConnection

# Without a record for this long, a partition that should have more is considered stuck.
STALL_SECONDS = 60.0


def read_topic(connection: KafkaConnection, topic: str, partitions: int) -> Iterator[Record]:
    ends = end_offsets(connection, topic, range(partitions))
    remaining = {p for p, end in ends.items() if end > 0}
    if not remaining:
        return
    consumer = Consumer(
        consumer_config(
            connection,
            group_id=f"threadweaver-verify-{uuid.uuid4()}",
            client_id="threadweaver-verify",
            **{"fetch.max.bytes": 52_428_800, "enable.partition.eof": False},
        )
    )
    try:
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in sorted(remaining)])
        last_progress = time.monotonic()
        while remaining:
            messages = consumer.consume(2_000, 0.5)
            if not messages and time.monotonic() - last_progress > STALL_SECONDS:
                raise TimeoutError(f"{topic}: no records for {STALL_SECONDS:.0f} s, {remaining}")
            for message in messages:
                error = message.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        continue
                    raise KafkaException(error)
                last_progress = time.monotonic()
                record = from_confluent(message)
                if record.partition not in remaining or record.offset >= ends[record.partition]:
                    continue
                yield record
                if record.offset >= ends[record.partition] - 1:
                    remaining.discard(record.partition)
                    consumer.pause([TopicPartition(topic, record.partition)])
    finally:
        consumer.close()
