"""Handles batches of command records: decode -> catch up -> decide -> append + await ack ->
store -> reply + await ack. The caller commits the batch's offsets only after `process`
returns, so nothing acknowledged is lost and nothing is decided twice (see handling.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from pipeline.codec import CodecError, decode_command, decode_event, encode_event, encode_reply
from pipeline.domain import Accepted, Command, Event, Rejected, RejectionReason, Thread, replay
from pipeline.kafka.partitioner import partition_for
from pipeline.kafka.producer import AsyncProducer, OutgoingRecord
from pipeline.kafka.records import Record
from pipeline.kafka.replies import REPLY_PARTITION_HEADER, Reply, reply_partition
from pipeline.settings import Topics
from pipeline.worker import metrics
from pipeline.worker.catchup import CatchUpReport, Journal, catch_up
from pipeline.worker.handling import AlreadyDecided, Decided, context_for, handle, misrouted
from pipeline.worker.handling import reply_for as _reply_for
from pipeline.worker.store import ThreadStore

log = logging.getLogger(__name__)

CACHE_MAX = 20_000
# Thread states reach RocksDB at most this often (and at revocation and shutdown), not after
# every batch: storing re-serialises each touched thread, the largest cost in the profile.
# A crash loses only unstored folds; catch-up re-folds them from the journal, the truth.
STORE_INTERVAL_S = 5.0
STORE_MAX_DIRTY = 20_000


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
        self,
        *,
        store: ThreadStore,
        journal: Journal,
        producer: AsyncProducer,
        topics: Topics,
        partitions: int,
    ) -> None:
        self._store = store
        self._journal = journal
        self._producer = producer
        self._topics = topics
        self._partitions = partitions
        self._caught_up: set[int] = set()
        self._cache: dict[tuple[int, str], Thread] = {}
        self._pending = _Pending()
        # Folded states not yet in the store, and the journal offset each partition's states
        # (stored + dirty) are folded up to; the pair is always consistent, so storing it at
        # any moment leaves the store a prefix of the journal.
        self._dirty: dict[int, dict[str, Thread]] = {}
        self._positions: dict[int, int] = {}
        self._stored_at = time.monotonic()
        # One writer of a partition's store at a time: the batch that owns it, or the standby
        # warmer while nobody owns it here.
        self._locks: dict[int, asyncio.Lock] = {}

    def forget(self, partitions: Sequence[int]) -> None:
        """Partitions were revoked: whoever gets them back must catch up again."""
        for partition in partitions:
            self._caught_up.discard(partition)
            # Keeps this worker's copy warm (a standby) and its memory bounded.
            self._store_dirty(partition)
        self._cache = {k: v for k, v in self._cache.items() if k[0] not in set(partitions)}

    def _lock(self, partition: int) -> asyncio.Lock:
        return self._locks.setdefault(partition, asyncio.Lock())

    async def process(self, records: Sequence[Record]) -> None:
        started = time.perf_counter()
        async with contextlib.AsyncExitStack() as locks:
            partitions = sorted({r.partition for r in records})
            for partition in partitions:  # sorted: no lock-order deadlock
                await locks.enter_async_context(self._lock(partition))
            for partition in partitions:
                if partition not in self._caught_up:
                    await self._catch_up(partition)
            for record in records:
                await self._add(record)
            await self._flush()
            dirty = sum(len(states) for states in self._dirty.values())
            if dirty >= STORE_MAX_DIRTY or time.monotonic() - self._stored_at >= STORE_INTERVAL_S:
                self.store_all()
        metrics.BATCH_SECONDS.observe(time.perf_counter() - started)

    def store_all(self) -> None:
        for partition in list(self._dirty):
            self._store_dirty(partition)
        self._stored_at = time.monotonic()

    def _store_dirty(self, partition: int) -> None:
        states = self._dirty.pop(partition, None)
        if states:
            self._store.commit(partition, states, self._positions[partition])

    async def quiesce(self) -> None:
        """Wait until no batch or standby warm-up uses the store, keep it that way, and store
        what is folded in memory only."""
        for partition in sorted(self._locks):
            await self._locks[partition].acquire()
        self.store_all()

    async def warm_standbys(self, partitions: int) -> None:
        """Fold the journal of the partitions this worker does not own into its store, so
        that taking one over after a failure only folds the last few events (a standby)."""
        for partition in range(partitions):
            if partition in self._caught_up:
                continue
            async with self._lock(partition):
                if partition in self._caught_up:
                    continue
                report = await self._fold_journal(partition)
                metrics.STANDBY_EVENTS.labels(str(partition)).inc(report.applied)

    async def _fold_journal(self, partition: int) -> CatchUpReport:
        """Fold the partition's journal into the store; cached states of it become stale."""
        self._store_dirty(partition)
        self._positions.pop(partition, None)
        report = await asyncio.to_thread(
            catch_up, self._store, self._journal, partition, decode_event
        )
        self._cache = {k: v for k, v in self._cache.items() if k[0] != partition}
        return report

    async def _catch_up(self, partition: int) -> None:
        report = await self._fold_journal(partition)
        self._caught_up.add(partition)
        metrics.CATCH_UP_EVENTS.labels(str(partition)).inc(report.applied)
        if report.rebuilt:
            metrics.REBUILDS.labels(str(partition)).inc()
        log.info("caught up %s", report)

    def _state(self, partition: int, thread_id: str) -> Thread | None:
        pending = self._pending.states.get(partition, {})
        if thread_id in pending:
            return pending[thread_id]
        dirty = self._dirty.get(partition)
        if dirty is not None and thread_id in dirty:
            return dirty[thread_id]
        cached = self._cache.get((partition, thread_id))
        if cached is not None:
            return cached
        return self._store.get(partition, thread_id)

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
        """Append the events, await the broker's acknowledgement, then store the states."""
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
        for partition, delivered in zip(appends, acknowledged, strict=True):
            offsets = [d.offset for d in delivered]
            position = self._position(partition)
            states = pending.states.get(partition, {})
            self._dirty.setdefault(partition, {}).update(states)
            if offsets[0] == position and offsets == list(range(position, position + len(offsets))):
                self._positions[partition] = offsets[-1] + 1
            else:
                # Someone else appended to this journal partition (or the marker lags): keep
                # the position, and catch up from it before the next decision (catch-up skips
                # the events these states already hold).
                log.warning(
                    "journal partition %d: appended at %s, expected from %d: catching up",
                    partition,
                    offsets[:3],
                    position,
                )
                self._store_dirty(partition)
                self._caught_up.discard(partition)
            for thread_id, state in states.items():
                self._cache[(partition, thread_id)] = state
        if len(self._cache) > CACHE_MAX:
            self._cache.clear()

    def _position(self, partition: int) -> int:
        position = self._positions.get(partition)
        if position is None:
            position = self._positions[partition] = self._store.journal_position(partition)
        return position
