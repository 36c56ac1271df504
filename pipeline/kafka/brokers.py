"""Waiting for the brokers before a component starts.

Faust's producer gives up at start when no broker answers its bootstrap (the worker then exits
with code 1), while librdkafka clients retry on their own. A worker started during a broker
outage (a pod rescheduled while Kafka restarts, a laptop stack coming back) should wait, not
crash-loop.
"""

from __future__ import annotations

import logging
import time

from confluent_kafka.admin import AdminClient

from pipeline.kafka.config import client_config
from pipeline.kafka.security import KafkaConnection

BACKOFF_START_S = 0.25
BACKOFF_CAP_S = 5.0
METADATA_TIMEOUT_S = 5.0


def wait_until_reachable(
    connection: KafkaConnection, log: logging.Logger, timeout_s: float | None = None
) -> None:
    """Return once a metadata request names a broker; TimeoutError after `timeout_s`."""
    admin = AdminClient(client_config(connection, log_level=0))
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    delay, attempts = BACKOFF_START_S, 0
    while True:
        attempts += 1
        try:
            if admin.list_topics(timeout=METADATA_TIMEOUT_S).brokers:
                if attempts > 1:
                    log.info("Kafka at %s answers again", connection.bootstrap_servers)
                return
            problem = "metadata names no broker"
        except Exception as exc:  # KafkaException; anything else is "not yet" too
            problem = str(exc)
        if attempts == 1 or attempts % 10 == 0:
            log.warning("waiting for Kafka at %s (%s)", connection.bootstrap_servers, problem)
        if deadline is not None and time.monotonic() >= deadline:
            raise TimeoutError(
                f"no Kafka broker at {connection.bootstrap_servers} within {timeout_s} s: {problem}"
            )
        time.sleep(delay)
        delay = min(delay * 2, BACKOFF_CAP_S)
