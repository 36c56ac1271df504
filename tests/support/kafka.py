"""Small Kafka helpers for tests: raw produce, read a whole topic (of the embedded stack's
broker, which listens in plain TCP: `bootstrap` is its address)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from pipeline.client.commands import new_id
from pipeline.kafka.config import producer_config
from pipeline.kafka.partitioner import partition_for
from pipeline.kafka.scanner import scan
from pipeline.kafka.security import KafkaConnection


@dataclass(frozen=True)
class Record:
    """A test's view of a record: headers as a dict (the last of a repeated name wins)."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, bytes]


def thread_in(partition: int, partitions: int) -> str:
    """A fresh thread id whose records go to `partition` (murmur2, like every producer)."""
    while True:
        thread_id = new_id()
        if partition_for(thread_id, partitions) == partition:
            return thread_id


def produce_raw(
    bootstrap: str,
    topic: str,
    value: bytes,
    key: bytes,
    *,
    partition: int | None = None,
    headers: list[tuple[str, bytes]] | None = None,
) -> tuple[int, int]:
    producer = Producer(producer_config(KafkaConnection.plaintext(bootstrap), "tests"))
    delivered: list[tuple[int, int]] = []

    def on_delivery(error: object, message: object) -> None:
        assert error is None, error
        delivered.append((message.partition(), message.offset()))  # type: ignore[attr-defined]

    kwargs: dict[str, object] = {"key": key, "on_delivery": on_delivery, "headers": headers or []}
    if partition is not None:
        kwargs["partition"] = partition
    producer.produce(topic, value, **kwargs)  # type: ignore[arg-type]
    producer.flush(10)
    assert delivered
    return delivered[0]


def read_topic(bootstrap: str, topic: str, partitions: int, timeout: float = 60.0) -> list[Record]:
    """Every record of `topic` up to its end at the time of the call (the product's scanner),
    with headers as a dict for terse assertions."""
    return [
        Record(r.partition, r.offset, r.key, r.value, dict(r.headers))
        for r in scan(
            KafkaConnection.plaintext(bootstrap),
            topic,
            range(partitions),
            group_id="tests-reader",
            stall_s=timeout,
        )
    ]


@contextlib.contextmanager
def scratch_topic(
    admin: AdminClient, prefix: str, partitions: int, config: dict[str, str] | None = None
) -> Iterator[str]:
    """A topic of its own for one test case (`prefix` + a random suffix), deleted after."""
    name = f"{prefix}-{uuid.uuid4().hex[:12]}"
    new = NewTopic(name, partitions, 1, config=config or {})
    for future in admin.create_topics([new]).values():
        future.result(30)
    try:
        yield name
    finally:
        for future in admin.delete_topics([name]).values():
            future.result(30)
