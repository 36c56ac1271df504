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

from pipeline.kafka.batch_loop import BatchLoop, Membership, member_consumer
from pipeline.kafka.crash import crash
from pipeline.kafka.records import Record
from pipeline.mirror import metrics
from pipeline.mirror.aws import dynamodb_client
from pipeline.mirror.batch import BatchMirror
from pipeline.mirror.config import GROUP_ID, MirrorSettings
from pipeline.mirror.deadletters import DeadLetterProducer
from pipeline.mirror.writer import DynamoWriter, RetryPolicy

log = logging.getLogger("threadweaver.mirror")


def build(
    settings: MirrorSettings, prepare_client: Callable[[Any], None] | None = None
) -> tuple[BatchLoop, DynamoWriter, DeadLetterProducer]:
    """The mirror's loop and what it writes through. `prepare_client` sees the DynamoDB
    client before anything uses it (the tests' fault injection, tests/support)."""
    base = settings.base
    client = dynamodb_client(
        base, pool=settings.concurrency + 2, timeout_s=settings.request_timeout_s
    )
    if prepare_client is not None:
        prepare_client(client)
    policy = RetryPolicy(settings.max_attempts, settings.backoff_base_s, settings.backoff_cap_s)
    writer = DynamoWriter(client, base.dynamodb_table, policy, settings.concurrency)
    dead_letters = DeadLetterProducer(
        base.kafka, base.topics.events_conflicts, f"{GROUP_ID}-{os.getpid()}"
    )
    mirror = BatchMirror(writer, dead_letters, settings.write_method, settings.retry_deadline_s)
    consumer = member_consumer(
        base.kafka,
        Membership(
            GROUP_ID,
            f"{GROUP_ID}-{os.getpid()}",
            settings.session_timeout_s,
            settings.heartbeat_interval_s,
            settings.group_instance_id,
            # A batch may retry until its deadline: stay in the group meanwhile.
            max_poll_interval_s=max(300.0, settings.retry_deadline_s + 60.0),
        ),
    )

    async def handle(records: list[Record]) -> None:
        log.debug("batch of %d records: mirroring", len(records))
        # The mirror's writes are blocking (boto3 over its own thread pool).
        outcome = await asyncio.to_thread(mirror.process, records)
        log.debug("batch mirrored: %s", outcome)

    loop = BatchLoop(
        consumer,
        base.topics.events,
        handle,
        batch_max=settings.batch_max,
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
    settings = MirrorSettings.from_env()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # DEBUG for our loggers only: botocore's would log every request.
    for name in ("pipeline", "threadweaver"):
        logging.getLogger(name).setLevel(settings.log_level)
    if settings.metrics_port:
        start_http_server(settings.metrics_port, addr="0.0.0.0")
    base = settings.base
    log.info(
        "mirroring %s to DynamoDB table %s (%s%s), %s writes, batches of %d, %d in flight",
        base.topics.events,
        base.dynamodb_table,
        base.aws_region,
        f", endpoint {base.dynamodb_endpoint}" if base.dynamodb_endpoint else "",
        settings.write_method.value,
        settings.batch_max,
        settings.concurrency,
    )
    loop, writer, dead_letters = build(settings, prepare_client)
    asyncio.run(_serve(loop))
    loop.close()
    dead_letters.close()
    writer.close()
    log.info("stopped")
    sys.exit(0)
