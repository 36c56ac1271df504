"""Snapshots of the worker's thread states on a compacted topic (docs/adr/0015-snapshots.md).

The owner of a partition writes, in rounds, the state of every thread changed since its last
round, each stamped with the round's journal position P (every event of the partition below P
is folded into the states). A round is one Kafka transaction of the partition's own
transactional id, so it is visible whole or not at all, and claiming a partition fences every
earlier writer of it: rounds form one line even across owners, zombies and crashes. Hence the
partition's latest snapshots, read committed, hold every thread folded at least up to the
highest P among them, and a new owner folds only the journal after that P.

Snapshots are a cache of the journal, never trusted over it: a snapshot that cannot be read,
of a thread it does not name, or of a state too large for a record is not used (that thread is
folded from the journal's start); a round ahead of the journal's end is not used at all; a
thread whose journal events after the round do not follow its snapshot makes catch-up rebuild
the partition from the journal (catchup.py).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

from pipeline.codec import CodecError, decode_snapshot, encode_snapshot
from pipeline.codec.snapshot import StateOmitted, ThreadSnapshot
from pipeline.domain import Thread
from pipeline.kafka.producer import OutgoingRecord
from pipeline.kafka.records import Record
from pipeline.kafka.scanner import read_committed
from pipeline.kafka.security import KafkaConnection
from pipeline.kafka.transactional import TransactionalWriter
from pipeline.worker import metrics

log = logging.getLogger(__name__)

# librdkafka's default message.max.bytes (a topic's default max.message.bytes is 1,048,588):
# a state whose snapshot record would be larger is written as StateOmitted instead.
RECORD_MAX_BYTES = 1_000_000
# Room for the record's key and Kafka's record overhead within RECORD_MAX_BYTES.
RECORD_OVERHEAD_BYTES = 512
# Never joined, never committed (assign() only); named in the worker's KafkaUser ACLs.
SNAPSHOT_READER_GROUP = "threadweaver-snapshot-reader"


def transactional_id(prefix: str, partition: int) -> str:
    """One per partition, so that claiming a partition fences only its previous writers."""
    return f"{prefix}-{partition}"


@dataclass(frozen=True, slots=True)
class Round:
    """What a partition's snapshots give: states folded at least up to `position`, and the
    threads whose snapshot could not be used (to be folded from the journal's start)."""

    position: int
    states: Mapping[str, Thread]
    missing: frozenset[str]
    # The snapshot records of `states`, as read: the store keeps these rather than re-encoding
    # each state (2.4 ms per thread of 3,800 live messages, bench/restore_cost.py).
    frames: Mapping[str, bytes]


_gc_lock = threading.Lock()
_gc_pausers = 0


@contextmanager
def _gc_paused() -> Iterator[None]:
    """The cyclic collector off while states are decoded (in threads, several partitions at
    once): the states are acyclic and long-lived, and each full collection while the heap
    grows walks all of them again, a third of a restore (1.3 of 3.9 s for 1,000 threads of
    3,800 live messages, measured on the bench's synthetic threads)."""
    global _gc_pausers  # noqa: PLW0603 - one count per process, like the collector it pauses
    with _gc_lock:
        # Off already and not by us: whoever turned it off turns it back on.
        ours = _gc_pausers > 0 or gc.isenabled()
        if ours:
            _gc_pausers += 1
            gc.disable()
    try:
        yield
    finally:
        if ours:
            with _gc_lock:
                _gc_pausers -= 1
                if _gc_pausers == 0:
                    gc.enable()


def last_round(records: Iterable[Record], partition: int, journal_end: int) -> Round | None:
    """The partition's last round from its committed snapshot records (oldest first); None
    when there is none, or when it claims more of the journal than the journal has."""
    with _gc_paused():
        return _last_round(records, partition, journal_end)


def _last_round(records: Iterable[Record], partition: int, journal_end: int) -> Round | None:
    latest: dict[bytes, bytes] = {}
    for record in records:
        if record.key is not None:
            latest[record.key] = record.value
    if not latest:
        return None
    position = 0
    states: dict[str, Thread] = {}
    frames: dict[str, bytes] = {}
    missing: set[str] = set()
    for key, value in latest.items():
        thread_id = key.decode(errors="replace")
        try:
            snapshot = decode_snapshot(value)
        except CodecError as exc:
            log.warning("partition %d: snapshot of %s unreadable: %s", partition, thread_id, exc)
            missing.add(thread_id)
            continue
        if snapshot.thread_id != thread_id or snapshot.journal_partition != partition:
            log.warning(
                "partition %d: snapshot under key %s is of %s (partition %d)",
                partition,
                thread_id,
                snapshot.thread_id,
                snapshot.journal_partition,
            )
            missing.add(thread_id)
            continue
        position = max(position, snapshot.journal_offset)
        if isinstance(snapshot.state, StateOmitted):
            missing.add(thread_id)
        else:
            states[thread_id] = snapshot.state
            frames[thread_id] = value
    if position > journal_end:
        log.warning(
            "partition %d: snapshots are folded up to %d, past the journal end %d: not used",
            partition,
            position,
            journal_end,
        )
        return None
    if position == 0:
        return None
    return Round(position, states, frozenset(missing), frames)


def round_records(
    topic: str, partition: int, position: int, states: Mapping[str, Thread]
) -> list[OutgoingRecord]:
    records = []
    for thread_id, state in states.items():
        value = encode_snapshot(ThreadSnapshot(thread_id, partition, position, state))
        if len(value) > RECORD_MAX_BYTES - RECORD_OVERHEAD_BYTES:
            omitted = StateOmitted(len(value), RECORD_MAX_BYTES - RECORD_OVERHEAD_BYTES)
            value = encode_snapshot(ThreadSnapshot(thread_id, partition, position, omitted))
            metrics.SNAPSHOTS_OMITTED.inc()
        records.append(OutgoingRecord(topic, value, key=thread_id.encode(), partition=partition))
    return records


class SnapshotWriter(Protocol):
    def write_all(self, records: Sequence[OutgoingRecord]) -> None:
        """One transaction; raises if it was not committed."""
        ...

    def close(self) -> None: ...


class SnapshotTopic(Protocol):
    """What the worker needs of the snapshot topic (KafkaSnapshots; a fake in unit tests,
    held to the same contract by tests/contracts/snapshots.py). Blocking: call from a thread."""

    @property
    def topic(self) -> str: ...

    def claim(self, partition: int) -> SnapshotWriter:
        """A writer of the partition's rounds; returns once every earlier writer is fenced."""
        ...

    def read(self, partition: int) -> Iterable[Record]:
        """The partition's committed records, oldest first."""
        ...


class KafkaSnapshots:
    def __init__(self, connection: KafkaConnection, topic: str, transactional_prefix: str) -> None:
        self._connection = connection
        self._topic = topic
        self._prefix = transactional_prefix

    @property
    def topic(self) -> str:
        return self._topic

    def claim(self, partition: int) -> SnapshotWriter:
        writer = TransactionalWriter(
            self._connection,
            transactional_id(self._prefix, partition),
            **{"message.max.bytes": RECORD_MAX_BYTES},
        )
        writer.open()
        return writer

    def read(self, partition: int) -> Iterable[Record]:
        return read_committed(
            self._connection, self._topic, partition, group_id=SNAPSHOT_READER_GROUP
        )


class Rounds:
    """When each owned partition's next round is due, and the rounds being written.

    A round captures (under the partition's lock, so states and position agree) the states of
    the threads changed since the last committed round and is written in the background; a
    round that fails leaves its threads to the next one.
    """

    def __init__(self, topic: SnapshotTopic, *, every_events: int, interval_s: float) -> None:
        self._topic = topic
        self._every_events = every_events
        self._interval_s = interval_s
        self._writers: dict[int, SnapshotWriter] = {}
        # Threads changed since the last committed round; None: every thread of the partition.
        self._changed: dict[int, set[str] | None] = {}
        self._events: dict[int, int] = {}
        self._since: dict[int, float] = {}
        self._writing: dict[int, asyncio.Task[None]] = {}

    def owns(self, partition: int) -> bool:
        return partition in self._writers

    def claim(self, partition: int) -> None:
        """Blocking (fences the previous writers): call from a thread, before reading."""
        previous = self._writers.pop(partition, None)
        if previous is not None and partition not in self._writing:
            # Claimed again while owned (catch-up after an append landed elsewhere): the
            # new writer fences this one, which would otherwise stay open.
            previous.close()
        self._writers[partition] = self._topic.claim(partition)

    def claimed(self, partition: int, changed: set[str] | None) -> None:
        self._changed[partition] = None if changed is None else set(changed)
        # Threads not in the last round (or no usable round): the first batch starts one.
        self._events[partition] = self._every_events if changed is None or changed else 0
        self._since[partition] = time.monotonic()

    def changed(self, partition: int, thread_ids: Iterable[str], events: int) -> None:
        pending = self._changed.get(partition)
        if pending is not None and partition in self._writers:
            pending.update(thread_ids)
        self._events[partition] = self._events.get(partition, 0) + events

    def due(self, partition: int, *, final: bool = False) -> bool:
        if partition not in self._writers or partition in self._writing:
            return False
        pending = self._changed.get(partition, set())
        if pending is not None and not pending:
            return False
        return (
            final
            or self._events.get(partition, 0) >= self._every_events
            or time.monotonic() - self._since.get(partition, 0.0) >= self._interval_s
        )

    def peek(self, partition: int) -> set[str] | None:
        """The threads changed since the last committed round (None: every thread)."""
        return self._changed.get(partition, set())

    def take(self, partition: int) -> set[str] | None:
        """The threads the round being started must write; the partition's count restarts."""
        pending = self._changed.get(partition)
        self._changed[partition] = set()
        self._events[partition] = 0
        self._since[partition] = time.monotonic()
        return pending

    def start(self, partition: int, states: Mapping[str, Thread], position: int) -> None:
        writer = self._writers[partition]
        captured = RoundToWrite(self._topic.topic, partition, position, states)
        self._writing[partition] = asyncio.create_task(self._write(partition, writer, captured))

    async def _write(self, partition: int, writer: SnapshotWriter, records: RoundToWrite) -> None:
        started = time.perf_counter()
        try:
            count = await asyncio.to_thread(records.write, writer)
        except Exception as exc:
            log.warning(
                "partition %d: snapshot round not written (%s); next round retries", partition, exc
            )
            pending = self._changed.get(partition)
            if partition in self._writers and pending is not None:
                pending.update(records.states)
                self._events[partition] = self._every_events  # due again at the next batch
            metrics.SNAPSHOT_ROUNDS.labels("failed").inc()
        else:
            metrics.SNAPSHOT_ROUNDS.labels("written").inc()
            metrics.SNAPSHOTS_WRITTEN.inc(count)
            metrics.SNAPSHOT_ROUND_SECONDS.observe(time.perf_counter() - started)
        finally:
            self._writing.pop(partition, None)
            if self._writers.get(partition) is not writer:
                # Released (or claimed anew) while writing: this writer is done.
                await asyncio.to_thread(writer.close)

    def release(self, partition: int) -> None:
        """The partition was revoked: no more rounds here (a round being written finishes or
        is fenced by the next owner)."""
        writer = self._writers.pop(partition, None)
        self._changed.pop(partition, None)
        if writer is not None and partition not in self._writing:
            writer.close()

    async def settle(self, partition: int) -> None:
        """Wait for the partition's round being written, if any."""
        writing = self._writing.get(partition)
        if writing is not None:
            await asyncio.gather(writing, return_exceptions=True)

    async def drain(self) -> None:
        while self._writing:
            await asyncio.gather(*self._writing.values(), return_exceptions=True)

    async def close(self) -> None:
        await self.drain()
        for partition in list(self._writers):
            self.release(partition)


@dataclass(frozen=True, slots=True)
class RoundToWrite:
    """A captured round: encoded and written on a thread, off the event loop."""

    topic: str
    partition: int
    position: int
    states: Mapping[str, Thread]

    def write(self, writer: SnapshotWriter) -> int:
        records = round_records(self.topic, self.partition, self.position, self.states)
        writer.write_all(records)
        return len(records)
