"""`threadweaver mirror`: run the journal mirror until SIGTERM/SIGINT.

Exit codes: 0 after a clean stop; 70 when it stopped itself because it must not go on (a
batch still failing at its retry deadline, dead letters not acknowledged): nothing of that
batch was committed, and the restart mirrors it again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Callable
from typing import Any, NoReturn

from confluent_kafka import KafkaException
from prometheus_client import start_http_server

from pipeline import logs
from pipeline.kafka.batch_loop import BatchLoop, Membership, member_consumer
from pipeline.kafka.crash import crash
from pipeline.kafka.records import Record
from pipeline.mirror import GROUP_ID, metrics
from pipeline.mirror.aws import dynamodb_client
from pipeline.mirror.batch import BatchMirror
from pipeline.mirror.deadletters import DeadLetterProducer
from pipeline.mirror.writer import DynamoWriter, RetryPolicy
from pipeline.settings import Settings

log = logging.getLogger("threadweaver.mirror")


def build(
    settings: Settings, prepare_client: Callable[[Any], None] | None = None
) -> tuple[BatchLoop, DynamoWriter, DeadLetterProducer]:
    """The mirror's loop and what it writes through. `prepare_client` sees the DynamoDB
    client before anything uses it (the tests' fault injection, tests/support)."""
    own = settings.mirror
    client = dynamodb_client(settings, pool=own.concurrency + 2, timeout_s=own.request_timeout_s)
    if prepare_client is not None:
        prepare_client(client)
    policy = RetryPolicy(own.max_attempts, own.backoff_base_s, own.backoff_cap_s)
    writer = DynamoWriter(client, settings.dynamodb_table, policy, own.concurrency)
    dead_letters = DeadLetterProducer(
        settings.kafka, settings.topics.events_conflicts, f"{GROUP_ID}-{os.getpid()}"
    )
    mirror = BatchMirror(writer, dead_letters, own.write_method, own.retry_deadline_s)
    consumer = member_consumer(
        settings.kafka,
        Membership(
            GROUP_ID,
            f"{GROUP_ID}-{os.getpid()}",
            settings.kafka_tuning.session_timeout_s,
            settings.kafka_tuning.heartbeat_interval_s,
            own.group_instance_id,
            # A batch may retry until its deadline: stay in the group meanwhile.
            max_poll_interval_s=max(300.0, own.retry_deadline_s + 60.0),
        ),
    )

    async def handle(records: list[Record]) -> None:
        log.debug("batch of %d records: mirroring", len(records))
        # The mirror's writes are blocking (boto3 over its own thread pool).
        outcome = await asyncio.to_thread(mirror.process, records)
        log.debug("batch mirrored: %s", outcome)

    loop = BatchLoop(
        consumer,
        settings.topics.events,
        handle,
        batch_max=own.batch_max,
        what="journal",
        first_timeout_s=0.5,
        on_commit_refused=_commit_refused,
        on_lag=lambda partition, lag: metrics.CONSUMER_LAG.labels(str(partition)).set(lag),
    )
    return loop, writer, dead_letters


def _commit_refused(exc: KafkaException) -> None:
    # Typically a partition revoked during the batch. Nothing is lost: the next owner starts
    # from the previous commit and finds these records' items stored.
    metrics.COMMIT_FAILURES.inc()
    log.warning("offset commit failed (%s): these records will be mirrored again", exc)


async def _serve(loop: BatchLoop) -> None:
    running = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        running.add_signal_handler(signum, _stopper(loop, signum))
    try:
        await loop.run()
    except Exception:
        crash(log, "journal mirror")


def _stopper(loop: BatchLoop, signum: int) -> Callable[[], None]:
    def stop() -> None:
        log.info("%s: stopping after the current batch", signal.Signals(signum).name)
        loop.stop()

    return stop


def main(prepare_client: Callable[[Any], None] | None = None) -> NoReturn:
    settings = Settings.from_env()
    own = settings.mirror
    logs.configure(settings.log.level, settings.log.format)
    # THREADWEAVER_MIRROR_LOG_LEVEL: our loggers only (botocore's DEBUG is every request).
    for name in ("pipeline", "threadweaver"):
        logging.getLogger(name).setLevel(own.log_level)
    if own.metrics_port:
        start_http_server(own.metrics_port, addr="0.0.0.0")
    log.info(
        "mirroring %s to DynamoDB table %s (%s%s), %s writes, batches of %d, %d in flight",
        settings.topics.events,
        settings.dynamodb_table,
        settings.aws_region,
        f", endpoint {settings.dynamodb_endpoint}" if settings.dynamodb_endpoint else "",
        own.write_method.value,
        own.batch_max,
        own.concurrency,
    )
    loop, writer, dead_letters = build(settings, prepare_client)
    asyncio.run(_serve(loop))
    loop.close()
    dead_letters.close()
    writer.close()
    log.info("stopped")
    sys.exit(0)
