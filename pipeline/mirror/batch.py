"""Mirror one batch of journal records: prepare -> look up -> plan -> write -> settle ->
dead-letter. Returns once DynamoDB and the broker have acknowledged everything the batch
covers; only then may the caller commit its offsets.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, assert_never

from pipeline.codec import decode_event
from pipeline.domain import Event
from pipeline.kafka.records import Record
from pipeline.mirror import metrics
from pipeline.mirror.items import (
    EVENT_ID,
    JOURNAL_OFFSET,
    JOURNAL_PARTITION,
    Item,
    Key,
    number,
    prepare,
    text,
)
from pipeline.mirror.plan import (
    Action,
    Conflict,
    DeadLetter,
    Skip,
    Write,
    keys_to_look_up,
    plan,
    writes,
)
from pipeline.mirror.records import (
    STORED_EVENT_ID_HEADER,
    STORED_OFFSET_HEADER,
    STORED_PARTITION_HEADER,
    DeadLetterReason,
    dead_letter_headers,
)
from pipeline.mirror.retry import Deadline
from pipeline.mirror.writer import ItemError, WriteReport
from pipeline.settings import WriteMethod

log = logging.getLogger(__name__)


class Store(Protocol):
    def stored(self, keys: Sequence[Key], deadline: Deadline) -> dict[Key, Item]: ...

    def put_batch(self, items: Sequence[Item], deadline: Deadline) -> WriteReport: ...

    def put_conditional(self, items: Sequence[Item], deadline: Deadline) -> WriteReport: ...


class DeadLetters(Protocol):
    def send(self, record: Record, headers: list[tuple[str, bytes]]) -> None: ...

    def flush(self, timeout: float = 30.0) -> None: ...


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    records: int
    written: int
    duplicates: int
    conflicts: int
    # Dead-lettered for another reason than a conflict (poison records).
    dead_letters: int


@dataclass(frozen=True, slots=True)
class BatchMirror:
    store: Store
    dead_letters: DeadLetters
    method: WriteMethod
    retry_deadline_s: float
    decode: Callable[[bytes], Event] = decode_event

    def process(self, records: Sequence[Record]) -> BatchOutcome:
        started = time.perf_counter()
        deadline = Deadline.after(self.retry_deadline_s)
        prepared = [prepare(record, self.decode) for record in records]
        stored: dict[Key, Item] = {}
        method = self.method
        if method is WriteMethod.BATCH:
            try:
                stored = self.store.stored(keys_to_look_up(prepared), deadline)
            except ItemError as exc:
                # A key DynamoDB will not even read: conditional writes isolate it.
                log.warning("BatchGetItem refused (%s): writing this batch conditionally", exc)
                method = WriteMethod.CONDITIONAL
        match method:
            case WriteMethod.BATCH:
                report = self.store.put_batch(writes(plan(prepared, stored)), deadline)
            case WriteMethod.CONDITIONAL:
                report = self.store.put_conditional(writes(plan(prepared, {})), deadline)
            case _:
                assert_never(method)
        outcome = self._settle(plan(prepared, {**stored, **report.present}, report.refused))
        self.dead_letters.flush()
        metrics.BATCH_SECONDS.observe(time.perf_counter() - started)
        return outcome

    def _settle(self, actions: Sequence[Action]) -> BatchOutcome:
        written = duplicates = conflicts = dead = 0
        for action in actions:
            match action:
                case Write():
                    written += 1
                case Skip():
                    duplicates += 1
                case Conflict(entry=entry, stored=stored_item):
                    conflicts += 1
                    self._conflict(entry.record, entry.key, entry.event_id, stored_item)
                case DeadLetter(record=record, reason=reason, error=error):
                    dead += 1
                    log.error(
                        "dead-lettering %s[%d]@%d: %s: %s",
                        record.topic,
                        record.partition,
                        record.offset,
                        reason.value,
                        error,
                    )
                    self._send(record, reason, error)
                case _:
                    assert_never(action)
        metrics.DUPLICATES.inc(duplicates)
        return BatchOutcome(len(actions), written, duplicates, conflicts, dead)

    def _conflict(self, record: Record, key: Key, event_id: str, stored: Item) -> None:
        metrics.CONFLICTS.inc()
        stored_id = text(stored, EVENT_ID) or "?"
        stored_at = (number(stored, JOURNAL_PARTITION), number(stored, JOURNAL_OFFSET))
        error = (
            f"thread {key[0]} seq_nr {key[1]}: event {event_id} differs from the stored "
            f"event {stored_id} (journal partition {stored_at[0]} offset {stored_at[1]})"
        )
        log.error("CONFLICT at %s[%d]@%d: %s", record.topic, record.partition, record.offset, error)
        extra = (
            (STORED_EVENT_ID_HEADER, stored_id),
            (STORED_PARTITION_HEADER, str(stored_at[0])),
            (STORED_OFFSET_HEADER, str(stored_at[1])),
        )
        self._send(record, DeadLetterReason.CONFLICT, error, extra)

    def _send(
        self,
        record: Record,
        reason: DeadLetterReason,
        error: str,
        extra: tuple[tuple[str, str], ...] = (),
    ) -> None:
        metrics.DEAD_LETTERS.labels(reason.value).inc()
        self.dead_letters.send(record, dead_letter_headers(record, reason, error, extra))
