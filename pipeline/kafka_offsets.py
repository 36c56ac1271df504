"""End offsets of partitions that do not trust the broker's ListOffsets answer.

tansu 0.6.0 answers ListOffsets(latest) with the base offset of a partition's last record batch
plus one, instead of its last offset plus one, so `get_watermark_offsets`, `list_offsets`,
aiokafka's `end_offsets` and Faust's changelog highwaters all come out too small after batched
produces. The high watermark carried in Fetch responses is right, on tansu and on Apache Kafka
alike, so "where does this partition end" is answered here by fetching: a throw-away consumer
reads from the beginning of each partition until one fetch response has arrived for it, and
takes the high watermark from that response (or the end-of-partition offset of an empty one).
The consumer never joins its group and never commits.

"End" is the high watermark (read_uncommitted): the project does not use broker transactions.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition

from pipeline.kafka.config import client_config
from pipeline.kafka.security import KafkaConnection

# Throw-away groups (never joined, never committed); a broker with authorization still wants
# Describe on them for FindCoordinator (the KafkaUsers grant it on this prefix).
END_OFFSETS_GROUP_PREFIX = "threadweaver-end-offsets-"


def end_offsets_by_fetch(
    connection: KafkaConnection, topic: str, partitions: Iterable[int], timeout: float = 10.0
) -> dict[int, int]:
    """The offset one past the last record of each partition, from Fetch responses.

    Raises TimeoutError naming the partitions it could not fetch within `timeout` seconds.
    """
    wanted = sorted(set(partitions))
    if not wanted:
        return {}
    consumer = Consumer(
        client_config(
            connection,
            **{
                # Required by librdkafka even though this consumer only uses assign().
                "group.id": f"{END_OFFSETS_GROUP_PREFIX}{uuid.uuid4()}",
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "enable.partition.eof": True,
                "isolation.level": "read_uncommitted",
                "fetch.wait.max.ms": 100,
                # One batch per partition is all we need to see.
                "fetch.max.bytes": 1_048_576,
                "max.partition.fetch.bytes": 65_536,
                "log_level": 3,
            },
        )
    )
    ends: dict[int, int] = {}
    try:
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in wanted])
        deadline = time.monotonic() + timeout
        while len(ends) < len(wanted):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                missing = [p for p in wanted if p not in ends]
                raise TimeoutError(
                    f"no fetch answer within {timeout:.0f} s for {topic} partitions {missing}"
                )
            message = consumer.poll(min(remaining, 0.5))
            if message is None:
                continue
            partition = message.partition()
            if partition is None or partition in ends:
                continue
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    # At the end already (an empty partition): the EOF offset is the end.
                    offset = message.offset()
                    ends[partition] = int(offset) if offset is not None else 0
                    continue
                raise KafkaException(error)
            # Cached: the watermarks the last Fetch response carried, no ListOffsets request.
            _, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), cached=True)
            if high < 0:
                continue  # no watermark cached yet (never seen, but cheap to wait for)
            ends[partition] = int(high)
            consumer.pause([TopicPartition(topic, partition)])
    finally:
        consumer.close()
    return ends
