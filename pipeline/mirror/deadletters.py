"""Producing dead letters (conflicts, poison records) and waiting for their acknowledgement.

Nothing of a batch is committed before its dead letters are acknowledged: a record leaves
the journal's unmirrored part only once it is in DynamoDB or in the conflicts topic.
"""

from __future__ import annotations

import threading
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from pipeline.kafka.config import producer_config
from pipeline.kafka.records import Record
from pipeline.kafka.security import KafkaConnection


class DeadLetterError(Exception):
    """The broker did not acknowledge every dead letter."""


class DeadLetterProducer:
    def __init__(
        self, connection: KafkaConnection, topic: str, client_id: str, **overrides: Any
    ) -> None:
        self._producer = Producer(producer_config(connection, client_id, **overrides))
        self._topic = topic
        self._lock = threading.Lock()
        self._failures: list[str] = []

    def _on_delivery(self, error: KafkaError | None, _message: Message) -> None:
        if error is not None:
            with self._lock:
                self._failures.append(str(error))

    def send(self, record: Record, headers: list[tuple[str, bytes]]) -> None:
        # Keyed like the journal record: a thread's dead letters keep their order.
        kafka_headers: list[tuple[str, str | bytes | None]] = list(headers)
        while True:
            try:
                self._producer.produce(
                    self._topic,
                    record.value,
                    key=record.key,
                    headers=kafka_headers,
                    on_delivery=self._on_delivery,
                )
                return
            except BufferError:
                self._producer.poll(0.05)  # local queue full: let deliveries drain

    def flush(self, timeout: float = 30.0) -> None:
        remaining = self._producer.flush(timeout)
        with self._lock:
            failures, self._failures = self._failures, []
        if remaining or failures:
            raise DeadLetterError(
                f"{remaining} dead letters unacknowledged after {timeout:.0f} s; "
                f"{len(failures)} failed ({'; '.join(failures[:3])})"
            )

    def close(self, timeout: float = 10.0) -> None:
        self._producer.flush(timeout)
