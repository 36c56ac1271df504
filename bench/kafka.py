"""The bench's Kafka helpers for the embedded broker (plain TCP).

`producer_conf` and `consumer_conf` are the raw-broker baselines' own clients
(bench/raw_proc.py, bench/pg_raw_proc.py): they copy the settings that matter from
pipeline/kafka/config.py (murmur2 partitioning, an idempotent acks=all producer) instead of
importing them, so a baseline keeps measuring the same thing while the product's client
plumbing evolves. Everything else the bench sends or reads goes through the product's
clients; the group helpers below are built like the components' consumers.
"""

from __future__ import annotations

import uuid
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from pipeline.kafka.config import consumer_config
from pipeline.kafka.offsets import end_offsets
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


def _group_consumer(bootstrap: str, group_id: str) -> Consumer:
    """A consumer of `group_id` that only reads or commits its offsets (it never joins)."""
    client_id = f"bench-offsets-{uuid.uuid4().hex[:8]}"
    return Consumer(consumer_config(KafkaConnection.plaintext(bootstrap), group_id, client_id))


def _ends(bootstrap: str, topic: str, partitions: int) -> dict[int, int]:
    return end_offsets(KafkaConnection.plaintext(bootstrap), topic, range(partitions), 15.0)


def start_group_at_end(
    bootstrap: str, topic: str, group_id: str, partitions: int
) -> dict[int, int]:
    """Commit a new consumer group's offsets at the topic's current end, so the workers of a
    bench run read only that run's commands (not what earlier runs left behind)."""
    ends = _ends(bootstrap, topic, partitions)
    consumer = _group_consumer(bootstrap, group_id)
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
    ends = _ends(bootstrap, topic, partitions)
    consumer = _group_consumer(bootstrap, group_id)
    try:
        committed = consumer.committed(
            [TopicPartition(topic, p) for p in range(partitions)], timeout=10
        )
    finally:
        consumer.close()
    done = {tp.partition: max(tp.offset, 0) for tp in committed}
    return sum(max(end - done.get(p, 0), 0) for p, end in ends.items())
