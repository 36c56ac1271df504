"""The journal consumer loop on confluent-kafka: `threadweaver projector`.

consume a batch -> BatchProcessor.process (transaction committed, dead letters acknowledged)
-> commit the batch's offsets synchronously. A crash anywhere before the offset commit only
makes the next owner of the partition read the batch again, and every event it already
applied is then a skipped re-append. Rebalance callbacks fire only inside `consume`, i.e.
between batches.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections import Counter
from collections.abc import Sequence

import asyncpg
from confluent_kafka import Consumer, KafkaException, Message, TopicPartition

from pipeline.kafka.config import consumer_config
from pipeline.kafka.crash import crash
from pipeline.kafka.messages import poll_batch
from pipeline.kafka.producer import AsyncProducer
from pipeline.kafka.records import Record, from_confluent
from pipeline.projector import guard, metrics
from pipeline.projector.config import ProjectorSettings
from pipeline.projector.executor import Executor
from pipeline.projector.processor import BatchProcessor, BatchReport

log = logging.getLogger(__name__)
RECONNECT_START_S = 0.25
RECONNECT_CAP_S = 5.0


def next_offsets(records: Sequence[Record]) -> list[TopicPartition]:
    ends: dict[tuple[str, int], int] = {}
    for record in records:
        ends[(record.topic, record.partition)] = record.offset + 1
    return [TopicPartition(t, p, o) for (t, p), o in ends.items()]


async def connect(settings: ProjectorSettings, role: str) -> asyncpg.Connection:
    return await asyncpg.connect(
        settings.pg_dsn,
        timeout=10.0,
        server_settings={"application_name": f"threadweaver-{role}"},
    )


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


def is_connection_loss(exc: BaseException) -> bool:
    """The database went away or is not accepting connections yet (restart, failover)."""
    if isinstance(
        exc,
        OSError
        | TimeoutError
        | asyncpg.PostgresConnectionError
        | asyncpg.CannotConnectNowError
        | asyncpg.AdminShutdownError
        | asyncpg.CrashShutdownError
        # A connection broken under a running statement can leave asyncpg's protocol
        # mid-operation ("cannot switch to state 12"); a new connection is the way out.
        | asyncpg.InternalClientError,
    ):
        return True
    # asyncpg raises its InterfaceError for a connection closed under a running query.
    return isinstance(exc, asyncpg.InterfaceError) and "connection is closed" in str(exc)


class ProjectorRunner:
    def __init__(self, settings: ProjectorSettings) -> None:
        self._settings = settings
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    def _consumer(self) -> Consumer:
        s = self._settings
        return Consumer(
            consumer_config(
                s.base.kafka,
                s.group_id,
                f"threadweaver-projector-{os.getpid()}",
                **{
                    "session.timeout.ms": int(s.session_timeout_s * 1000),
                    "heartbeat.interval.ms": int(s.heartbeat_interval_s * 1000),
                },
            )
        )

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
        settings = self._settings
        conn = await connect(settings, "projector")
        try:
            if not await guard.hold_shared(conn, self._stop):
                return
            consumer = self._consumer()
            producer = AsyncProducer(
                settings.base.kafka, client_id=f"threadweaver-projector-{os.getpid()}"
            )
            processor = BatchProcessor(
                Executor(conn), producer, settings.base.topics.events_conflicts
            )
            try:
                await self._loop(consumer, processor)
            finally:
                try:
                    consumer.close()
                finally:
                    producer.close()
        finally:
            await conn.close()

    async def _loop(self, consumer: Consumer, processor: BatchProcessor) -> None:
        progress = ProgressLog(self._settings.log_interval_s)
        consumer.subscribe(
            [self._settings.base.topics.events],
            on_assign=lambda _c, tps: log.info(
                "assigned journal partitions %s", sorted(tp.partition for tp in tps)
            ),
            on_revoke=lambda _c, tps: log.info(
                "revoked journal partitions %s", sorted(tp.partition for tp in tps)
            ),
        )
        log.info(
            "projecting %s with group %s",
            self._settings.base.topics.events,
            self._settings.group_id,
        )
        while not self._stop.is_set():
            messages = await asyncio.to_thread(self._poll_batch, consumer)
            for message in messages:
                if message.error() is not None:
                    log.warning("consumer error: %s", message.error())
            records = [from_confluent(m) for m in messages if m.error() is None]
            if records:
                progress.add(await processor.process(records))
                self._commit(consumer, records, progress.lag)
            progress.maybe_log()

    def _poll_batch(self, consumer: Consumer) -> list[Message]:
        return poll_batch(consumer, self._settings.batch_max, 0.2)

    def _commit(self, consumer: Consumer, records: Sequence[Record], lag: dict[int, int]) -> None:
        offsets = next_offsets(records)
        try:
            consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            # Safe to go on: the write is durable and the records will be read again and
            # skipped as re-appends; the next successful commit covers these offsets too.
            metrics.COMMIT_FAILURES.inc()
            log.warning("offset commit refused (%s); the batch will be read again", exc)
            return
        for tp in offsets:
            _low, high = consumer.get_watermark_offsets(
                TopicPartition(tp.topic, tp.partition), cached=True
            )
            if high is not None and high >= 0:
                lag[tp.partition] = max(high - tp.offset, 0)
                metrics.CONSUMER_LAG.labels(str(tp.partition)).set(lag[tp.partition])


async def serve(settings: ProjectorSettings) -> None:
    runner = ProjectorRunner(settings)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, runner.stop)
    try:
        await runner.run()
    except Exception:
        crash(log, "projector")
