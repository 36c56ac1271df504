"""How `end_offsets` fails: a TimeoutError naming what it asked for and what it last heard,
never a hang. (Its answers are checked against the records themselves in test_stack.py.)"""

from __future__ import annotations

import time
import uuid

import pytest

from pipeline.kafka.offsets import end_offsets
from pipeline.kafka.security import KafkaConnection
from pipeline.stack import Endpoints
from pipeline.stack.ports import free_port

pytestmark = pytest.mark.integration


def test_a_topic_that_never_appears_times_out_naming_it(stack: Endpoints) -> None:
    topic = f"tests-no-such-topic-{uuid.uuid4().hex[:8]}"
    started = time.monotonic()
    with pytest.raises(TimeoutError, match=rf"within 1 s for {topic} partitions \[0\] \(last"):
        end_offsets(stack.kafka, topic, [0], timeout=1.0)
    assert time.monotonic() - started < 5.0


def test_no_broker_is_a_timeout_naming_the_partitions() -> None:
    nobody = KafkaConnection.plaintext(f"127.0.0.1:{free_port()}")
    started = time.monotonic()
    with pytest.raises(TimeoutError, match=r"within 1 s for t partitions \[0, 1\]"):
        end_offsets(nobody, "t", [1, 0, 1], timeout=1.0)
    assert time.monotonic() - started < 5.0
