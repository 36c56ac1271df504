"""librdkafka (confluent-kafka) configuration used by every component."""

from __future__ import annotations

from typing import Any

# Java-compatible partitioning: a thread id maps to the same partition whoever produced it.
PARTITIONER = "murmur2_random"


def producer_config(bootstrap_servers: str, client_id: str, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap_servers,
        "client.id": client_id,
        "partitioner": PARTITIONER,
        # No duplicates or reordering on retries, and acknowledged only once replicated.
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 2,
        "compression.type": "none",
    }
    config.update(overrides)
    return config


def consumer_config(
    bootstrap_servers: str, group_id: str, client_id: str, **overrides: Any
) -> dict[str, Any]:
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap_servers,
        "group.id": group_id,
        "client.id": client_id,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": 10_000,
        "heartbeat.interval.ms": 1_000,
        "enable.partition.eof": False,
        # Some brokers (tansu 0.6) hold an empty fetch for the whole wait even when records
        # arrive meanwhile: a short wait bounds the added latency.
        "fetch.wait.max.ms": 20,
    }
    config.update(overrides)
    return config
