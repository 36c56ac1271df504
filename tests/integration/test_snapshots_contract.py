"""KafkaSnapshots holds to the SnapshotTopic contract (tests/contracts/snapshots.py) on the real
broker: transactions of a per-partition transactional id, read committed.

Each case gets a compacted topic and a transactional id prefix of its own.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka.admin import AdminClient  # type: ignore[attr-defined]

from pipeline.kafka.config import client_config
from pipeline.stack import Endpoints
from pipeline.worker.snapshots import KafkaSnapshots, SnapshotTopic
from tests.contracts.snapshots import SnapshotsContract
from tests.support.kafka import scratch_topic

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def admin(stack: Endpoints) -> AdminClient:
    return AdminClient(client_config(stack.kafka, log_level=3))


@pytest.fixture
def topic(admin: AdminClient) -> Iterator[str]:
    with scratch_topic(admin, "tests-snapshots-contract", 2, {"cleanup.policy": "compact"}) as name:
        yield name


class TestKafkaSnapshots(SnapshotsContract):
    @pytest.fixture
    def snapshots(self, stack: Endpoints, topic: str) -> SnapshotTopic:
        return KafkaSnapshots(stack.kafka, topic, f"tests-snapshots-{uuid.uuid4().hex[:8]}")
