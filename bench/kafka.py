"""The bench's own Kafka clients for the embedded broker (plain TCP).

They copy the settings that matter from pipeline/kafka/config.py (murmur2 partitioning, an
idempotent acks=all producer) instead of importing it, so that the bench keeps measuring the
same thing while the components' client plumbing evolves.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

PARTITIONER = "murmur2_random"


def producer_conf(bootstrap: str, client_id: str, **overrides: Any) -> dict[str, Any]:
    conf: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "client.id": client_id,
        "partitioner": PARTITIONER,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 2,
        "compression.type": "none",
        "queue.buffering.max.messages": 1_000_000,
        "log_level": 3,
    }
    conf.update(overrides)
    return conf


def consumer_conf(bootstrap: str, group_id: str, **overrides: Any) -> dict[str, Any]:
    conf: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "group.id": group_id,
        "client.id": group_id,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        # tansu 0.6 holds an empty fetch for the whole wait (pipeline/kafka/config.py).
        "fetch.wait.max.ms": 20,
        "fetch.max.bytes": 52_428_800,
        "queued.min.messages": 100_000,
        "log_level": 3,
    }
    conf.update(overrides)
    return conf


def create_topics(bootstrap: str, names: Iterable[str], partitions: int) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 3})
    existing = set(admin.list_topics(timeout=10).topics)
    wanted = [NewTopic(n, partitions, 1) for n in names if n not in existing]
    if not wanted:
        return
    for name, future in admin.create_topics(wanted, operation_timeout=15).items():
        try:
            future.result(timeout=15)
        except KafkaException as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc.args[0]):
                raise RuntimeError(f"could not create topic {name}: {exc}") from exc


def end_offsets(
    bootstrap: str, topic: str, partitions: int, timeout: float = 15.0
) -> dict[int, int]:
    """One past the last record of each partition, from the high watermark of a Fetch
    response: tansu 0.6 answers ListOffsets wrongly after batched produces
    (pipeline/kafka_offsets.py)."""
    consumer = Consumer(
        consumer_conf(
            bootstrap,
            f"bench-end-offsets-{uuid.uuid4()}",
            **{
                "enable.partition.eof": True,
                "fetch.wait.max.ms": 100,
                "max.partition.fetch.bytes": 65_536,
                "fetch.max.bytes": 1_048_576,
            },
        )
    )
    ends: dict[int, int] = {}
    try:
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
        deadline = time.monotonic() + timeout
        while len(ends) < partitions:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{topic}: no fetch answer from {set(range(partitions)) - set(ends)}"
                )
            message = consumer.poll(0.5)
            if message is None:
                continue
            partition = message.partition()
            if partition is None or partition in ends:
                continue
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    ends[partition] = int(message.offset() or 0)
                    continue
                raise KafkaException(error)
            _, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), cached=True)
            if high >= 0:
                ends[partition] = int(high)
                consumer.pause([TopicPartition(topic, partition)])
    finally:
        consumer.close()
    return ends


def total(offsets: dict[int, int]) -> int:
    return sum(offsets.values())


def start_group_at_end(
    bootstrap: str, topic: str, group_id: str, partitions: int
) -> dict[int, int]:
    """Commit a new consumer group's offsets at the topic's current end, so the workers of a
    bench run read only that run's commands (not what earlier runs left behind)."""
    ends = end_offsets(bootstrap, topic, partitions)
    consumer = Consumer(consumer_conf(bootstrap, group_id))
    try:
        consumer.commit(
            offsets=[TopicPartition(topic, p, o) for p, o in sorted(ends.items())],
            asynchronous=False,
        )
    finally:
        consumer.close()
    return ends


def group_lag(bootstrap: str, topic: str, group_id: str, partitions: int) -> int:
    """Records of `topic` the group has not committed yet (a partition never committed counts
    from its start)."""
    ends = end_offsets(bootstrap, topic, partitions)
    consumer = Consumer(consumer_conf(bootstrap, group_id))
    try:
        committed = consumer.committed(
            [TopicPartition(topic, p) for p in range(partitions)], timeout=10
        )
    finally:
        consumer.close()
    done = {tp.partition: max(tp.offset, 0) for tp in committed}
    return sum(max(end - done.get(p, 0), 0) for p, end in ends.items())
