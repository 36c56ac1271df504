"""One batch of journal records: decode -> apply (one transaction) -> alarms -> dead letters.

Shared by the running projector and `projector rebuild`; both commit their consumer offsets
only after `process` returns, i.e. after the transaction committed and every dead letter was
acknowledged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from pipeline.codec import CodecError, decode_event
from pipeline.kafka.producer import AsyncProducer
from pipeline.kafka.records import Record
from pipeline.projector import metrics
from pipeline.projector.executor import Executor
from pipeline.projector.plan import Outcome, ThreadPlan, group_by_thread, invalid_envelope
from pipeline.projector.records import JournalEvent

log = logging.getLogger(__name__)

APPLIED_EVENT_ID_HEADER = "threadweaver-applied-event-id"
APPLIED_COMMAND_ID_HEADER = "threadweaver-applied-command-id"


@dataclass(frozen=True, slots=True)
class DeadLetter:
    record: Record
    reason: str
    detail: str
    extra_headers: tuple[tuple[str, bytes], ...] = ()

    def headers(self) -> list[tuple[str, bytes]]:
        return self.record.dead_letter_headers(self.reason, self.detail, self.extra_headers)


@dataclass
class BatchReport:
    records: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    def add(self, other: BatchReport) -> None:
        self.records += other.records
        self.outcomes.update(other.outcomes)
        self.seconds += other.seconds


class BatchProcessor:
    def __init__(self, executor: Executor, producer: AsyncProducer, conflicts_topic: str) -> None:
        self._executor = executor
        self._producer = producer
        self._conflicts_topic = conflicts_topic

    async def process(self, records: Sequence[Record]) -> BatchReport:
        started = time.perf_counter()
        report = BatchReport(records=len(records))
        items: list[JournalEvent] = []
        dead: list[DeadLetter] = []
        for record in records:
            try:
                event = decode_event(record.value)
            except CodecError as exc:
                log.error("undecodable journal record at %s: %s", record.position, exc.reason)
                dead.append(DeadLetter(record, "UNDECODABLE", exc.reason))
                report.outcomes[metrics.UNDECODABLE] += 1
                continue
            problem = invalid_envelope(event)
            if problem is not None:
                log.error("invalid journal event at %s: %s", record.position, problem)
                dead.append(DeadLetter(record, "INVALID_EVENT", problem))
                report.outcomes[metrics.INVALID] += 1
                continue
            items.append(JournalEvent(record, event))

        plans = await self._executor.apply(group_by_thread(items))
        for plan in plans:
            dead.extend(self._alarms(plan))
            report.outcomes.update(v.outcome.value for v in plan.verdicts)
        if log.isEnabledFor(logging.DEBUG):
            _log_verdicts(plans)

        if dead:
            # Awaited before returning: the offsets of these records are committed next.
            await asyncio.gather(
                *(
                    self._producer.send(
                        self._conflicts_topic,
                        letter.record.value,
                        key=letter.record.key,
                        partition=letter.record.partition,
                        headers=letter.headers(),
                    )
                    for letter in dead
                )
            )
            for letter in dead:
                metrics.DEAD_LETTERS.labels(letter.reason).inc()
        report.seconds = time.perf_counter() - started
        for outcome, count in report.outcomes.items():
            metrics.EVENTS.labels(outcome).inc(count)
        metrics.BATCH_SECONDS.observe(report.seconds)
        metrics.BATCH_RECORDS.observe(report.records)
        return report

    def _alarms(self, plan: ThreadPlan) -> list[DeadLetter]:
        """Log what must not go unnoticed; the conflicts to dead-letter."""
        if plan.park is not None:
            park = plan.park
            metrics.PARKED_THREADS.labels(park.reason.value).inc()
            log.error(
                "PARKED thread %s (%s) at %s: %s. Its read model stays at version %d and its "
                "later events are skipped until `threadweaver projector rebuild`.",
                plan.thread_id,
                park.reason.value,
                park.item.record.position,
                park.detail,
                park.version,
            )
        letters = []
        for verdict in plan.verdicts:
            if verdict.outcome is not Outcome.CONFLICT:
                continue
            log.error(
                "CONFLICT in thread %s at %s: %s",
                plan.thread_id,
                verdict.item.record.position,
                verdict.detail,
            )
            extra: tuple[tuple[str, bytes], ...] = ()
            if verdict.applied is not None:
                extra = (
                    (APPLIED_EVENT_ID_HEADER, verdict.applied.event_id.encode()),
                    (APPLIED_COMMAND_ID_HEADER, verdict.applied.command_id.encode()),
                )
            letters.append(DeadLetter(verdict.item.record, "CONFLICT", verdict.detail, extra))
        return letters


def _log_verdicts(plans: Sequence[ThreadPlan]) -> None:
    """One line per event at DEBUG, with the command that caused it: a grep of a command id
    follows it from the API through the worker to here."""
    for plan in plans:
        for verdict in plan.verdicts:
            event = verdict.event
            log.debug(
                "event %s seq_nr %d: %s",
                event.name,
                event.seq_nr,
                verdict.outcome.value,
                extra={
                    "command_id": event.command_id,
                    "thread_id": event.thread_id,
                    "event_id": event.event_id,
                    "seq_nr": event.seq_nr,
                    "partition": verdict.item.record.partition,
                    "offset": verdict.item.record.offset,
                },
            )
