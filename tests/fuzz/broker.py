"""Producing many raw records at once, and reading what a run left on a topic."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from confluent_kafka import KafkaError, Message, Producer

from pipeline.kafka import offsets
from pipeline.kafka.config import producer_config
from pipeline.kafka.security import KafkaConnection
from tests.support.kafka import Record, read_topic


@dataclass(frozen=True)
class Outgoing:
    value: bytes | None
    key: bytes | None
    partition: int | None = None
    headers: tuple[tuple[str, bytes], ...] = ()


def produce_all(
    bootstrap: str, topic: str, records: Sequence[Outgoing], batch: int = 200
) -> list[tuple[int, int]]:
    """Produce `records` in order, `batch` at a time; (partition, offset) of each."""
    producer = Producer(producer_config(KafkaConnection.plaintext(bootstrap), "tests-fuzz"))
    placed: list[tuple[int, int] | None] = [None] * len(records)
    errors: list[str] = []

    def reporter(index: int) -> object:
        def on_delivery(error: KafkaError | None, message: Message) -> None:
            if error is not None:
                errors.append(f"record {index}: {error}")
                return
            partition, offset = message.partition(), message.offset()
            assert partition is not None
            assert offset is not None
            placed[index] = (partition, offset)

        return on_delivery

    for start in range(0, len(records), batch):
        for index in range(start, min(start + batch, len(records))):
            record = records[index]
            kwargs: dict[str, object] = {
                "key": record.key,
                "headers": list(record.headers),
                "on_delivery": reporter(index),
            }
            if record.partition is not None:
                kwargs["partition"] = record.partition
            producer.produce(topic, record.value, **kwargs)  # type: ignore[arg-type]
        assert producer.flush(60) == 0, "records not acknowledged"
    assert not errors, errors[:5]
    return [where for where in placed if where is not None]


def end_offsets(bootstrap: str, topic: str, partitions: int) -> dict[int, int]:
    return offsets.end_offsets(KafkaConnection.plaintext(bootstrap), topic, range(partitions))


def read_since(
    bootstrap: str, topic: str, partitions: int, since: Mapping[int, int]
) -> list[Record]:
    """The records of `topic` from the offsets `since` to its end now."""
    return [
        record
        for record in read_topic(bootstrap, topic, partitions)
        if record.offset >= since.get(record.partition, 0)
    ]
