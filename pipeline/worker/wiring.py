"""The batch executor and what it writes through, built one way for both runtimes (app.py,
runner.py); each runtime closes the producer and the store when it stops."""

from __future__ import annotations

import os
from typing import NamedTuple

from pipeline.kafka.producer import AsyncProducer
from pipeline.settings import Settings
from pipeline.worker.batch import BatchExecutor
from pipeline.worker.journal import KafkaJournal
from pipeline.worker.records import WORKER_PRODUCER_CONFIG
from pipeline.worker.snapshots import KafkaSnapshots, Rounds
from pipeline.worker.states import ThreadStates, journal_catch_up
from pipeline.worker.store import ThreadStore


class ExecutorParts(NamedTuple):
    executor: BatchExecutor
    producer: AsyncProducer
    store: ThreadStore


def build_executor(settings: Settings) -> ExecutorParts:
    worker = settings.worker
    producer = AsyncProducer(
        settings.kafka, client_id=f"{worker.group_id}-{os.getpid()}", **WORKER_PRODUCER_CONFIG
    )
    store = ThreadStore(worker.data_dir / "threads")
    journal = KafkaJournal(settings.kafka, settings.topics.events)
    snapshots = rounds = None
    if worker.snapshots:
        snapshots = KafkaSnapshots(
            settings.kafka, settings.topics.snapshots, f"{worker.group_id}-snapshots"
        )
        rounds = Rounds(
            snapshots,
            every_events=worker.snapshot_every_events,
            interval_s=worker.snapshot_interval_s,
        )
    executor = BatchExecutor(
        states=ThreadStates(store, journal_catch_up(store, journal, snapshots, rounds), rounds),
        producer=producer,
        topics=settings.topics,
        partitions=settings.partitions,
    )
    return ExecutorParts(executor, producer, store)
