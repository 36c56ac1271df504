"""`threadweaver projector`: the journal's batches (pipeline/kafka/batch_loop.py) handed to
BatchProcessor.process (transaction committed, dead letters acknowledged) before their
offsets are committed. A crash anywhere before the offset commit only makes the next owner of
the partition read the batch again, and every event it already applied is then a skipped
re-append. A lost database connection is waited out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections import Counter

from confluent_kafka import KafkaException

from pipeline.kafka.batch_loop import BatchLoop, Membership, member_consumer
from pipeline.kafka.crash import crash
from pipeline.kafka.producer import AsyncProducer
from pipeline.kafka.records import Record
from pipeline.projector import guard, metrics
from pipeline.projector.database import connect, is_connection_loss
from pipeline.projector.executor import Executor
from pipeline.projector.processor import BatchProcessor, BatchReport
from pipeline.settings import Settings

log = logging.getLogger(__name__)
RECONNECT_START_S = 0.25
RECONNECT_CAP_S = 5.0


class ProgressLog:
    """A periodic INFO line: what was projected, how fast, how far behind."""

    def __init__(self, interval_s: float) -> None:
        self._interval = interval_s
        self._since = time.monotonic()
        self._window = BatchReport()
        self.lag: dict[int, int] = {}

    def add(self, report: BatchReport) -> None:
        self._window.add(report)

    def maybe_log(self) -> None:
        elapsed = time.monotonic() - self._since
        if not self._interval or elapsed < self._interval:
            return
        if self._window.records:
            outcomes = ", ".join(f"{k}={v}" for k, v in sorted(self._window.outcomes.items()))
            log.info(
                "projected %d records in %.1f s (%.0f/s; %.0f/s inside batches): %s; lag %d",
                self._window.records,
                elapsed,
                self._window.records / elapsed,
                self._window.records / self._window.seconds if self._window.seconds else 0.0,
                outcomes,
                sum(self.lag.values()),
            )
        self._since = time.monotonic()
        self._window = BatchReport(outcomes=Counter())


class ProjectorRunner:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        """Project until stopped; a lost database connection is waited out, not fatal.

        Nothing of a batch is committed to Kafka before its transaction is, so starting over
        (a new connection, a new consumer that resumes at the committed offsets) loses
        nothing and re-applies nothing: re-read records are skipped as re-appends.
        """
        delay = RECONNECT_START_S
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                await self._run_connected()
                return
            except Exception as exc:
                if not is_connection_loss(exc):
                    raise
                if time.monotonic() - started > RECONNECT_CAP_S * 4:
                    delay = RECONNECT_START_S  # it had been working: a new outage
                metrics.RECONNECTS.inc()
                log.warning("PostgreSQL unavailable (%r); starting over in %.2f s", exc, delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=delay)
                delay = min(delay * 2, RECONNECT_CAP_S)

    async def _run_connected(self) -> None:
        base = self._settings
        settings, tuning = base.projector, base.kafka_tuning
        conn = await connect(base, "projector")
        try:
            if not await guard.hold_shared(conn, self._stop):
                return
            client_id = f"threadweaver-projector-{os.getpid()}"
            consumer = member_consumer(
                base.kafka,
                Membership(
                    settings.group_id,
                    client_id,
                    tuning.session_timeout_s,
                    tuning.heartbeat_interval_s,
                ),
            )
            producer = AsyncProducer(base.kafka, client_id=client_id)
            processor = BatchProcessor(Executor(conn), producer, base.topics.events_conflicts)
            progress = ProgressLog(settings.log_interval_s)

            async def handle(records: list[Record]) -> None:
                progress.add(await processor.process(records))

            def lag(partition: int, behind: int) -> None:
                progress.lag[partition] = behind
                metrics.CONSUMER_LAG.labels(str(partition)).set(behind)

            loop = BatchLoop(
                consumer,
                base.topics.events,
                handle,
                batch_max=settings.batch_max,
                what="journal",
                on_commit_refused=_commit_refused,
                on_lag=lag,
                after_poll=progress.maybe_log,
            )
            log.info("projecting %s with group %s", base.topics.events, settings.group_id)
            stopping = asyncio.create_task(self._stop.wait())
            stopping.add_done_callback(lambda _: loop.stop())
            try:
                await loop.run()
            finally:
                stopping.cancel()
                try:
                    loop.close()
                finally:
                    producer.close()
        finally:
            await conn.close()


def _commit_refused(exc: KafkaException) -> None:
    # Safe to go on: the write is durable and the records will be read again and skipped as
    # re-appends; the next successful commit covers these offsets too.
    metrics.COMMIT_FAILURES.inc()
    log.warning("offset commit refused (%s); the batch will be read again", exc)


async def serve(settings: Settings) -> None:
    runner = ProjectorRunner(settings)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, runner.stop)
    try:
        await runner.run()
    except Exception:
        crash(log, "projector")
