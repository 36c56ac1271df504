"""The confluent-kafka runtime of the worker (`THREADWEAVER_WORKER_RUNTIME=confluent`; the
default is the Faust agent of app.py; see docs/adr/0002): the command topic's batches
(pipeline/kafka/batch_loop.py) handed to BatchExecutor.process, which returns once their
appends and replies are acknowledged, before their offsets are committed. A refused commit
crashes the worker: its restart reads the batch again and answers it from the journal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal

from pipeline.kafka.batch_loop import BatchLoop, Membership, member_consumer
from pipeline.kafka.crash import crash
from pipeline.settings import Settings
from pipeline.worker import metrics
from pipeline.worker.batch import BatchExecutor
from pipeline.worker.wiring import build_executor

log = logging.getLogger(__name__)


async def _warm_standbys(
    executor: BatchExecutor, settings: Settings, stopping: asyncio.Event
) -> None:
    while not stopping.is_set():
        await executor.warm_standbys(settings.partitions)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), settings.worker.standby_interval_s)


async def serve(settings: Settings) -> None:
    worker, tuning = settings.worker, settings.kafka_tuning
    executor, producer, store = build_executor(settings)
    consumer = member_consumer(
        settings.kafka,
        Membership(
            worker.group_id,
            f"{worker.group_id}-{os.getpid()}",
            tuning.session_timeout_s,
            tuning.heartbeat_interval_s,
            worker.group_instance_id,
        ),
    )
    loop = BatchLoop(
        consumer,
        settings.topics.commands,
        executor.process,
        batch_max=worker.batch_max,
        on_revoked=executor.forget,
        on_lag=lambda partition, lag: metrics.CONSUMER_LAG.labels(str(partition)).set(lag),
        what="command",
    )
    running = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        running.add_signal_handler(signum, loop.stop)
    standby = (
        asyncio.create_task(_warm_standbys(executor, settings, loop.stopping))
        if worker.standby_replicas > 0
        else None
    )
    try:
        try:
            await loop.run()
        finally:
            loop.stop()
        if standby is not None:
            await standby
    except Exception:
        crash(log, "aggregate worker")
    try:
        loop.close()
    finally:
        producer.close()
        # States folded since the last periodic store: stored now (or re-folded at start), and
        # a last snapshot round of what changed.
        await executor.quiesce()
        store.close()
