"""A component waits for the brokers before it starts (pipeline/kafka/brokers.py)."""

from __future__ import annotations

import logging
import time

import pytest

from pipeline.kafka.brokers import wait_until_reachable
from pipeline.kafka.security import KafkaConnection
from pipeline.stack import Endpoints
from pipeline.stack.ports import free_port

pytestmark = pytest.mark.integration

log = logging.getLogger("threadweaver.test.brokers")


def test_returns_at_once_when_a_broker_answers(stack: Endpoints) -> None:
    started = time.monotonic()
    wait_until_reachable(stack.kafka, log, timeout_s=30)
    assert time.monotonic() - started < 10


def test_keeps_waiting_while_nothing_answers(caplog: pytest.LogCaptureFixture) -> None:
    nowhere = KafkaConnection.plaintext(f"127.0.0.1:{free_port()}")
    with (
        caplog.at_level(logging.WARNING, logger=log.name),
        pytest.raises(TimeoutError, match="no Kafka broker"),
    ):
        wait_until_reachable(nowhere, log, timeout_s=3)
    assert "waiting for Kafka" in caplog.text
