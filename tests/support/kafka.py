"""Small Kafka helpers for tests: raw produce, read a whole topic (of the embedded stack's
broker, which listens in plain TCP: `bootstrap` is its address)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from pipeline.kafka.config import producer_config
from pipeline.kafka.offsets import end_offsets
from pipeline.kafka.security import KafkaConnection


@dataclass(frozen=True)
class Record:
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, bytes]


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
    """Every record of `topic` up to its end at the time of the call."""
    ends = end_offsets(KafkaConnection.plaintext(bootstrap), topic, range(partitions))
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "tests-reader",
            "enable.auto.commit": False,
        }
    )
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    records: list[Record] = []
    remaining = {p for p, end in ends.items() if end > 0}
    deadline = time.monotonic() + timeout
    try:
        while remaining:
            assert time.monotonic() < deadline, f"{topic}: still missing {remaining}"
            for message in consumer.consume(1000, 0.2):
                if message.error() is not None:
                    continue
                partition, offset = message.partition(), message.offset()
                assert partition is not None
                assert offset is not None
                if offset >= ends[partition]:
                    remaining.discard(partition)
                    continue
                headers = {k: v or b"" for k, v in (message.headers() or [])}
                records.append(
                    Record(partition, offset, message.key(), message.value() or b"", headers)  # type: ignore[arg-type]
                )
                if offset >= ends[partition] - 1:
                    remaining.discard(partition)
    finally:
        consumer.close()
    return records
