"""KafkaJournal holds to the Journal contract (tests/contracts/journal.py) on the real broker.

Each case gets a topic of its own, so that the cases start from empty partitions.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient  # type: ignore[attr-defined]

from pipeline.kafka.config import client_config, producer_config
from pipeline.kafka.security import KafkaConnection
from pipeline.stack import Endpoints
from pipeline.worker.journal import KafkaJournal
from tests.contracts.journal import PARTITIONS, JournalContract
from tests.support.kafka import scratch_topic

pytestmark = pytest.mark.integration


class KafkaHarness:
    def __init__(self, connection: KafkaConnection, topic: str) -> None:
        self.topic = topic
        self.journal = KafkaJournal(connection, topic)
        self._producer = Producer(producer_config(connection, "tests-journal-contract"))

    def append(self, partition: int, values: Sequence[bytes]) -> None:
        failures: list[object] = []
        delivered: list[int] = []

        def on_delivery(error: object, message: object) -> None:
            if error is not None:
                failures.append(error)
            else:
                delivered.append(message.offset())  # type: ignore[attr-defined]

        for value in values:
            self._producer.produce(
                self.topic, value, key=b"contract", partition=partition, on_delivery=on_delivery
            )
        assert self._producer.flush(30) == 0, "records still unacknowledged"
        assert not failures, failures
        assert len(delivered) == len(values)

    def close(self) -> None:
        # Gone before the broker is, or librdkafka logs its reconnects at exit.
        self._producer.flush(10)
        del self._producer


@pytest.fixture(scope="module")
def admin(stack: Endpoints) -> AdminClient:
    return AdminClient(client_config(stack.kafka, log_level=3))


@pytest.fixture
def topic(admin: AdminClient) -> Iterator[str]:
    with scratch_topic(admin, "tests-journal-contract", PARTITIONS) as name:
        yield name


class TestKafkaJournal(JournalContract):
    @pytest.fixture
    def harness(self, stack: Endpoints, topic: str) -> Iterator[KafkaHarness]:
        harness = KafkaHarness(stack.kafka, topic)
        yield harness
        harness.close()
