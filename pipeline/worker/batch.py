"""One batch of command records: catch up -> decode -> decide -> append + await ack -> reply +
await ack. The caller commits the batch's offsets only after `process` returns, so nothing
acknowledged is lost and nothing is decided twice (ADR 0002; the redelivery rules and why a
thread's unjournaled replies go out before its next append are in handling.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, assert_never

from pipeline.codec import CodecError, decode_command, encode_event, encode_reply
from pipeline.domain import Accepted, Command, Event, Rejected, RejectionReason, Thread, replay
from pipeline.kafka.partitioner import partition_for
from pipeline.kafka.producer import Delivered, OutgoingRecord
from pipeline.kafka.records import Record
from pipeline.kafka.replies import REPLY_PARTITION_HEADER, Reply, reply_partition
from pipeline.settings import Topics
from pipeline.worker import metrics
from pipeline.worker.handling import AlreadyDecided, Decided, context_for, handle, misrouted
from pipeline.worker.handling import reply_for as _reply_for
from pipeline.worker.states import ThreadStates

log = logging.getLogger(__name__)


class Producer(Protocol):
    """What a batch needs of the producer (pipeline/kafka/producer.py's AsyncProducer)."""

    def send_all(self, records: Sequence[OutgoingRecord]) -> Awaitable[list[Delivered]]:
        """Produce `records` in order now; the result resolves once the broker acknowledged
        every one (in the same order), or fails."""
        ...


@dataclass
class _Pending:
    events: dict[int, list[Event]] = field(default_factory=dict)
    states: dict[int, dict[str, Thread]] = field(default_factory=dict)
    replies: list[tuple[Reply, int | None]] = field(default_factory=list)
    dead_letters: list[tuple[Record, str, str]] = field(default_factory=list)
    # Threads with a reply not yet acknowledged that left no trace in the journal.
    unjournaled_replies: set[tuple[int, str]] = field(default_factory=set)


class BatchExecutor:
    def __init__(
        self, *, states: ThreadStates, producer: Producer, topics: Topics, partitions: int
    ) -> None:
        self._states = states
        self._producer = producer
        self._topics = topics
        self._partitions = partitions
        self._pending = _Pending()

    def forget(self, partitions: Sequence[int]) -> None:
        """Partitions were revoked: whoever gets them back must catch up again."""
        self._states.forget(partitions)

    def store_all(self) -> None:
        self._states.store_all()

    async def quiesce(self) -> None:
        await self._states.quiesce()

    async def warm_standbys(self, partitions: int) -> None:
        await self._states.warm_standbys(partitions)

    async def process(self, records: Sequence[Record]) -> None:
        started = time.perf_counter()
        async with contextlib.AsyncExitStack() as locks:
            partitions = sorted({r.partition for r in records})
            for partition in partitions:  # sorted: no lock-order deadlock
                await locks.enter_async_context(self._states.lock(partition))
            # Side by side: a partition's catch-up mostly waits on the broker (claim, reads).
            await asyncio.gather(*(self._states.ensure_caught_up(p) for p in partitions))
            for record in records:
                await self._add(record)
            await self._flush()
            self._states.store_if_due()
            await self._states.snapshot_if_due(partitions)
        metrics.BATCH_SECONDS.observe(time.perf_counter() - started)

    def _state(self, partition: int, thread_id: str) -> Thread | None:
        pending = self._pending.states.get(partition, {})
        if thread_id in pending:
            return pending[thread_id]
        return self._states.get(partition, thread_id)

    async def _add(self, record: Record) -> None:
        try:
            command = decode_command(record.value)
        except CodecError as exc:
            self._dead_letter(record, "UNDECODABLE", exc.reason, command_name="unknown")
            return
        expected = partition_for(command.thread_id, self._partitions)
        if expected != record.partition:
            rejection = misrouted(command, record.partition, expected)
            self._reply(record, command, rejection)
            self._dead_letter(record, "MISROUTED", rejection.message, command_name=command.name)
            return
        state = self._state(record.partition, command.thread_id)
        started = time.perf_counter()
        outcome = handle(state, command, context_for(record.timestamp_ms, record.offset))
        metrics.DECIDE_SECONDS.observe(time.perf_counter() - started)
        if log.isEnabledFor(logging.DEBUG):
            # One line per command at DEBUG: a grep of its id follows it API -> worker ->
            # projector; at INFO the hot path pays nothing for it.
            log.debug(
                "command %s: %s",
                command.name,
                _outcome_text(outcome),
                extra={
                    "command_id": command.command_id,
                    "thread_id": command.thread_id,
                    "partition": record.partition,
                    "offset": record.offset,
                },
            )
        match outcome:
            case AlreadyDecided():
                metrics.commands(command.name, "already_decided", "").inc()
            case Decided(decision=Accepted(events=events) as accepted) if events:
                key = (record.partition, command.thread_id)
                if key in self._pending.unjournaled_replies:
                    # An earlier reply of this thread must be durable before this append,
                    # or a crash could leave the append without that reply (handling.py, 2).
                    await self._flush()
                self._pending.events.setdefault(record.partition, []).extend(events)
                self._pending.states.setdefault(record.partition, {})[command.thread_id] = replay(
                    events, state
                )  # type: ignore[assignment]
                self._reply(record, command, accepted)
                metrics.commands(command.name, "accepted", "").inc()
            case Decided(decision=Accepted() as accepted):
                self._reply(record, command, accepted, unjournaled=True)
                outcome_label = "duplicate" if accepted.duplicate else "accepted"
                metrics.commands(command.name, outcome_label, "").inc()
            case Decided(decision=Rejected() as rejected):
                self._reply(record, command, rejected, unjournaled=True)
                metrics.commands(command.name, "rejected", rejected.reason.value).inc()
                if rejected.reason is RejectionReason.INVALID_COMMAND:
                    self._dead_letter(
                        record, "INVALID_COMMAND", rejected.message, command_name=command.name
                    )

    def _reply(
        self,
        record: Record,
        command: Command,
        decision: Accepted | Rejected,
        *,
        unjournaled: bool = False,
    ) -> None:
        self._pending.replies.append(
            (
                _reply_for(command, decision),
                reply_partition(record.header(REPLY_PARTITION_HEADER), self._partitions),
            )
        )
        if unjournaled:
            self._pending.unjournaled_replies.add((record.partition, command.thread_id))

    def _dead_letter(self, record: Record, reason: str, error: str, *, command_name: str) -> None:
        self._pending.dead_letters.append((record, reason, error))
        metrics.DEAD_LETTERS.labels(reason).inc()
        if reason != "INVALID_COMMAND":
            metrics.commands(command_name, "dead_lettered", reason).inc()

    async def _flush(self) -> None:
        pending, self._pending = self._pending, _Pending()
        await self._append(pending)
        outgoing = [
            OutgoingRecord(
                self._topics.replies,
                encode_reply(reply),
                key=reply.thread_id.encode(),
                partition=partition,
            )
            for reply, partition in pending.replies
        ]
        outgoing.extend(
            OutgoingRecord(
                self._topics.commands_dlq,
                record.value,
                key=record.key,
                partition=record.partition,
                headers=record.dead_letter_headers(reason, error),
            )
            for record, reason, error in pending.dead_letters
        )
        if outgoing:
            await self._producer.send_all(outgoing)

    async def _append(self, pending: _Pending) -> None:
        """Append the events and await the broker's acknowledgement; then the states they
        fold to are the partition's (in memory until stored)."""
        # Every partition's appends go out together: one round trip for the whole batch.
        appends = {
            partition: self._producer.send_all(
                [
                    OutgoingRecord(
                        self._topics.events,
                        encode_event(event),
                        key=event.thread_id.encode(),
                        partition=partition,
                    )
                    for event in events
                ]
            )
            for partition, events in pending.events.items()
        }
        if not appends:
            return
        acknowledged = await asyncio.gather(*appends.values())
        self._states.appended(
            {
                partition: (pending.states.get(partition, {}), [d.offset for d in delivered])
                for partition, delivered in zip(appends, acknowledged, strict=True)
            }
        )


def _outcome_text(outcome: AlreadyDecided | Decided) -> str:
    match outcome:
        case AlreadyDecided():
            return "already decided (its reply was sent before)"
        case Decided(decision=decision):
            match decision:
                case Accepted(duplicate=True):
                    return "accepted before (duplicate)"
                case Accepted(version=version):
                    return f"accepted at version {version}"
                case Rejected(reason=reason):
                    return f"rejected ({reason.value})"
                case _:
                    assert_never(decision)
        case _:
            assert_never(outcome)
