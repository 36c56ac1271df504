"""The command consumer loop on confluent-kafka (`THREADWEAVER_WORKER_RUNTIME=confluent`; the
default is the Faust agent of app.py; see docs/adr/0002).

consume a batch -> BatchExecutor.process (appends and replies acknowledged) -> commit the
batch's offsets synchronously. Rebalance callbacks only fire inside `consume`, i.e. between
batches, so a partition is never revoked half-way through a batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import threading
from collections.abc import Sequence

from confluent_kafka import Consumer, Message, TopicPartition

from pipeline.kafka.config import consumer_config
from pipeline.kafka.crash import crash
from pipeline.kafka.messages import poll_batch
from pipeline.kafka.records import Record, from_confluent
from pipeline.worker import metrics
from pipeline.worker.config import WorkerSettings
from pipeline.worker.wiring import build_executor

log = logging.getLogger(__name__)


class CommandRunner:
    def __init__(self, settings: WorkerSettings) -> None:
        self._settings = settings
        base = settings.base
        self._stop = asyncio.Event()
        self._revoked: list[int] = []
        self._lock = threading.Lock()
        overrides: dict[str, object] = {
            "session.timeout.ms": int(settings.session_timeout_s * 1000),
            "heartbeat.interval.ms": int(settings.heartbeat_interval_s * 1000),
        }
        if settings.group_instance_id:
            # Static membership: a restarted pod gets its partitions back without a rebalance.
            overrides["group.instance.id"] = settings.group_instance_id
        self._consumer = Consumer(
            consumer_config(
                base.kafka,
                settings.group_id,
                f"{settings.group_id}-{os.getpid()}",
                **overrides,
            )
        )
        self._executor, self._producer, self._store = build_executor(settings)

    def _on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        with self._lock:
            self._revoked.extend(tp.partition for tp in partitions)

    def _on_assign(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.info("assigned partitions %s", sorted(tp.partition for tp in partitions))

    def stop(self) -> None:
        self._stop.set()

    async def warm_standbys(self) -> None:
        while not self._stop.is_set():
            await self._executor.warm_standbys(self._settings.base.partitions)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self._settings.standby_interval_s)

    async def run(self) -> None:
        topic = self._settings.base.topics.commands
        self._consumer.subscribe([topic], on_assign=self._on_assign, on_revoke=self._on_revoke)
        try:
            while not self._stop.is_set():
                messages = await asyncio.to_thread(self._poll_batch)
                with self._lock:
                    revoked, self._revoked = self._revoked, []
                if revoked:
                    self._executor.forget(revoked)
                records = [from_confluent(m) for m in messages if m.error() is None]
                for message in messages:
                    if message.error() is not None:
                        log.warning("consumer error: %s", message.error())
                if not records:
                    continue
                await self._executor.process(records)
                self._commit(records)
        finally:
            self._stop.set()

    def _poll_batch(self) -> list[Message]:
        return poll_batch(self._consumer, self._settings.batch_max, 0.2)

    def _commit(self, records: Sequence[Record]) -> None:
        next_offsets: dict[tuple[str, int], int] = {}
        for record in records:
            next_offsets[(record.topic, record.partition)] = record.offset + 1
        self._consumer.commit(
            offsets=[TopicPartition(t, p, o) for (t, p), o in next_offsets.items()],
            asynchronous=False,
        )
        for (t, p), offset in next_offsets.items():
            _low, high = self._consumer.get_watermark_offsets(TopicPartition(t, p), cached=True)
            if high is not None and high >= 0:
                metrics.CONSUMER_LAG.labels(str(p)).set(max(high - offset, 0))

    def close(self) -> None:
        try:
            self._consumer.close()
        finally:
            self._producer.close()
            # States folded since the last periodic store: stored now, or re-folded at start.
            self._executor.store_all()
            self._store.close()


async def serve(settings: WorkerSettings) -> None:
    runner = CommandRunner(settings)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, runner.stop)
    standby = asyncio.create_task(runner.warm_standbys()) if settings.standby_replicas > 0 else None
    try:
        await runner.run()
        if standby is not None:
            await standby
    except Exception:
        crash(log, "aggregate worker")
    runner.close()
