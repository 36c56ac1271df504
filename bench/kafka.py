"""The bench's own Kafka clients for the embedded broker (plain TCP).

They copy the settings that matter from pipeline/kafka/config.py (murmur2 partitioning, an
idempotent acks=all producer) instead of importing it, so that the bench keeps measuring the
same thing while the components' client plumbing evolves. Where a partition ends is not
measured: that comes from the components' own pipeline/kafka/offsets.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from pipeline.kafka import offsets
from pipeline.kafka.security import KafkaConnection

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
    """One past the last record of each partition (the embedded broker listens in plain TCP)."""
    return offsets.end_offsets(
        KafkaConnection.plaintext(bootstrap), topic, range(partitions), timeout
    )


def total(ends: dict[int, int]) -> int:
    return sum(ends.values())


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
