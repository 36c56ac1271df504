"""The batch executor and what it writes through, built one way for both runtimes (app.py,
runner.py); each runtime closes the producer and the store when it stops."""

from __future__ import annotations

import os
from typing import NamedTuple

from pipeline.kafka.producer import AsyncProducer
from pipeline.worker.batch import BatchExecutor
from pipeline.worker.config import WorkerSettings
from pipeline.worker.journal import KafkaJournal
from pipeline.worker.records import WORKER_PRODUCER_CONFIG
from pipeline.worker.states import ThreadStates, journal_catch_up
from pipeline.worker.store import ThreadStore


class ExecutorParts(NamedTuple):
    executor: BatchExecutor
    producer: AsyncProducer
    store: ThreadStore


def build_executor(settings: WorkerSettings) -> ExecutorParts:
    base = settings.base
    producer = AsyncProducer(
        base.kafka, client_id=f"{settings.group_id}-{os.getpid()}", **WORKER_PRODUCER_CONFIG
    )
    store = ThreadStore(settings.data_dir / "threads")
    journal = KafkaJournal(base.kafka, base.topics.events)
    executor = BatchExecutor(
        states=ThreadStates(store, journal_catch_up(store, journal)),
        producer=producer,
        topics=base.topics,
        partitions=base.partitions,
    )
    return ExecutorParts(executor, producer, store)
