"""`threadweaver projector rebuild`: drop the read model and project the journal again.

Every projector of the database must be stopped first (k8s: scale the Deployment to 0);
the rebuild refuses to start otherwise (pipeline/projector/guard.py), and a projector
started meanwhile waits for it. Steps, each safe to interrupt:

1. commit the group's offsets to the start of the journal. Interrupted after this, a
   projector re-reads everything over the old read model, which it skips as re-appends;
2. truncate the read-model tables in one transaction;
3. project from the start to the journal's end as it was when the rebuild began, committing
   the group's offsets after each batch exactly as the projector does. Interrupted here, a
   projector (or another rebuild) carries on from the last committed batch.

Afterwards `threadweaver projector` continues from where the rebuild stopped.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass

from confluent_kafka import KafkaException

from pipeline.kafka.batch_loop import next_offsets
from pipeline.kafka.offsets import end_offsets
from pipeline.kafka.producer import AsyncProducer
from pipeline.kafka.scanner import PartitionScanner
from pipeline.projector import guard
from pipeline.projector.database import connect
from pipeline.projector.executor import Executor
from pipeline.projector.processor import BatchProcessor, BatchReport
from pipeline.settings import Settings

log = logging.getLogger(__name__)

READ_MODEL_TABLES = (
    "threads",
    "thread_administrators",
    "thread_members",
    "messages",
    "thread_events",
    "projector_parked_threads",
)
TRUNCATE = f"TRUNCATE {', '.join(READ_MODEL_TABLES)}"


class RebuildRefusedError(Exception):
    pass


@dataclass
class RebuildReport:
    journal_end: dict[int, int]
    projected: BatchReport


async def rebuild(
    base: Settings,
    *,
    on_total: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> RebuildReport:
    settings = base.projector
    topic = base.topics.events
    conn = await connect(base, "projector-rebuild")
    try:
        if not await guard.try_exclusive(conn):
            raise RebuildRefusedError(
                "a projector is running against this database: stop every projector first "
                "(k8s: scale its Deployment to 0), then run the rebuild again"
            )
        ends = await asyncio.to_thread(end_offsets, base.kafka, topic, range(base.partitions))
        starts = dict.fromkeys(range(base.partitions), 0)
        scanner = await asyncio.to_thread(
            lambda: PartitionScanner(
                base.kafka,
                topic,
                group_id=settings.group_id,
                starts=starts,
                ends=ends,
                batch_max=settings.batch_max,
            )
        )
        producer = AsyncProducer(
            base.kafka, client_id=f"threadweaver-projector-rebuild-{os.getpid()}"
        )
        try:
            try:
                await asyncio.to_thread(scanner.commit, starts)
            except KafkaException as exc:
                raise RebuildRefusedError(
                    f"consumer group {settings.group_id} refused the offset reset ({exc}): "
                    "is a projector of this group running against another database?"
                ) from exc
            await conn.execute(TRUNCATE)
            log.info("read model truncated; projecting %s up to %s", topic, ends)
            if on_total is not None:
                on_total(sum(ends.values()))
            processor = BatchProcessor(Executor(conn), producer, base.topics.events_conflicts)
            report = BatchReport()
            while not scanner.done:
                batch = await asyncio.to_thread(scanner.next_batch)
                if not batch:
                    continue
                report.add(await processor.process(batch))
                offsets = {p: o for (_topic, p), o in next_offsets(batch).items()}
                await asyncio.to_thread(scanner.commit, offsets)
                if on_progress is not None:
                    on_progress(len(batch))
            # Partitions with nothing to read still get their end committed, so the projector
            # starts there rather than wherever `auto.offset.reset` would put it.
            await asyncio.to_thread(scanner.commit, ends)
        finally:
            try:
                scanner.close()
            finally:
                producer.close()
        await guard.release_exclusive(conn)
        return RebuildReport(ends, report)
    finally:
        await conn.close()
