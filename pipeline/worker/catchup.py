"""Catch a partition's thread states up to the end of its journal partition.

The journal is the truth and the store only a cache: catch-up folds every event after the
store's marker, skips events the store already holds, and when the store and the journal
disagree (a gap in a thread's seq_nrs, an unreadable state, a marker past the journal's end)
it throws the partition's cache away and rebuilds it from the start of the journal.

An owner also starts from the partition's snapshots (snapshots.py) when they are further
along than its store: the store is then replaced by the snapshot round and only the journal
after the round is folded. Snapshots are checked the same way (a gap after them makes a
rebuild from the journal), and the threads a snapshot could not give are folded from the
journal's start. The report names every thread changed after the last snapshot round, which
the next round must write.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

from pipeline.domain import Event, Thread, evolve
from pipeline.worker.snapshots import Round
from pipeline.worker.store import ThreadStore, UnreadableStateError

log = logging.getLogger(__name__)

COMMIT_EVERY = 20_000
# States read or folded during one catch-up stay in memory (up to this many threads): reading
# a thread back from the store after every commit re-built its whole message history, the
# largest cost of a rebuild (issue 7's recovery benchmark).
FOLD_CACHE_MAX = 50_000


class Journal(Protocol):
    def end_offset(self, partition: int) -> int: ...

    def read(self, partition: int, start: int, end: int) -> Iterator[tuple[int, bytes]]: ...


class Verdict(Enum):
    APPLIED = "applied"
    ALREADY_FOLDED = "already_folded"
    GAP = "gap"


def fold(state: Thread | None, event: Event) -> tuple[Thread | None, Verdict]:
    """Apply `event` if it is the thread's next one; recognise ones already folded."""
    version = 0 if state is None else state.version
    if event.seq_nr <= version:
        return state, Verdict.ALREADY_FOLDED
    if event.seq_nr != version + 1:
        return state, Verdict.GAP
    return evolve(state, event), Verdict.APPLIED


@dataclass
class CatchUpReport:
    partition: int
    start: int
    end: int
    applied: int = 0
    already_folded: int = 0
    undecodable: int = 0
    rebuilt: bool = False
    journal_gaps: list[str] = field(default_factory=list)
    # Snapshots: the round restored from (None: the store was used), and the threads changed
    # after the last round, which the next round must write (None: every thread).
    restored_from: int | None = None
    restored_threads: int = 0
    # Where the time went, step by step ("end": the journal's end offset, "snapshots": reading
    # and decoding the last round, "store": writing it to the store, "fold": the journal).
    steps_s: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    changed: set[str] | None = field(default_factory=set)
    # States the catch-up held in memory at its end (restored or folded, as stored): handed to
    # the worker's cache, so that the first commands do not read back what was just written
    # (1.3 ms per thread of 3,800 live messages, bench/restore_cost.py).
    states: dict[str, Thread] = field(default_factory=dict)


class _RebuildError(Exception):
    pass


def catch_up(
    store: ThreadStore,
    journal: Journal,
    partition: int,
    decode: Callable[[bytes], Event],
    snapshots: Callable[[int], Round | None] | None = None,
) -> CatchUpReport:
    """Fold the journal into the store up to its end. `snapshots(end)` (owners only) gives
    the partition's last snapshot round, or None when there is none worth trusting."""
    started = time.perf_counter()
    report = _catch_up(store, journal, partition, decode, snapshots)
    report.seconds = time.perf_counter() - started
    return report


def _catch_up(
    store: ThreadStore,
    journal: Journal,
    partition: int,
    decode: Callable[[bytes], Event],
    snapshots: Callable[[int], Round | None] | None,
) -> CatchUpReport:
    steps: dict[str, float] = {}
    started = time.perf_counter()
    start = store.journal_position(partition)
    end = journal.end_offset(partition)
    steps["end"] = time.perf_counter() - started
    started = time.perf_counter()
    last_round = snapshots(end) if snapshots is not None else None
    steps["snapshots"] = time.perf_counter() - started
    if last_round is None and snapshots is not None:
        # No round yet (or none usable): the next round writes every thread of the partition.
        changed: set[str] | None = None
    else:
        changed = set()
    if last_round is not None and last_round.position > start:
        restored = _restore(store, journal, partition, decode, last_round, end)
        if restored is not None:
            restored.steps_s = steps | restored.steps_s
            return restored
    else:
        if last_round is not None and start <= end:
            # The store is further along: refold from the round on (events the store holds
            # are skipped, cheaply) to learn which threads changed after it.
            start = last_round.position
        report = CatchUpReport(partition, start, end, changed=changed)
        if start > end:
            log.warning(
                "partition %d: store marker %d is past the journal end %d", partition, start, end
            )
        else:
            try:
                _fold_range(store, journal, partition, decode, start, end, report, strict=True)
                return report
            except (_RebuildError, UnreadableStateError) as exc:
                log.warning(
                    "partition %d: local state inconsistent (%s): rebuilding", partition, exc
                )
    store.reset_partition(partition)
    report = CatchUpReport(partition, 0, end, rebuilt=True, changed=None)
    _fold_range(store, journal, partition, decode, 0, end, report, strict=False)
    return report


def _restore(  # noqa: PLR0917 - private helper of catch_up
    store: ThreadStore,
    journal: Journal,
    partition: int,
    decode: Callable[[bytes], Event],
    last_round: Round,
    end: int,
) -> CatchUpReport | None:
    """Replace the partition's store with the round, fold the journal after it; None if the
    journal contradicts the round (the caller then rebuilds from the journal)."""
    started = time.perf_counter()
    store.restore(partition, last_round.frames, last_round.position)
    stored = time.perf_counter()
    report = CatchUpReport(
        partition,
        last_round.position,
        end,
        restored_from=last_round.position,
        restored_threads=len(last_round.states),
        changed=set(last_round.missing),
    )
    # Both folds start from the restored states and keep them up to date for the worker.
    fold_range = functools.partial(
        _fold_range,
        store,
        journal,
        partition,
        decode,
        report=report,
        strict=True,
        states=dict[str, Thread | None](last_round.states),
    )
    try:
        if last_round.missing:
            # Threads the round could not give (a state too large for a record, an unreadable
            # snapshot): folded from the journal's start, every other thread's events skipped.
            fold_range(0, last_round.position, only=last_round.missing)
        fold_range(last_round.position, end)
        report.steps_s = {"store": stored - started, "fold": time.perf_counter() - stored}
    except (_RebuildError, UnreadableStateError) as exc:
        log.warning("partition %d: snapshots contradict the journal (%s)", partition, exc)
        return None
    return report


def _fold_range(  # noqa: PLR0917 - private helper, called twice with keywords-free clarity
    store: ThreadStore,
    journal: Journal,
    partition: int,
    decode: Callable[[bytes], Event],
    start: int,
    end: int,
    report: CatchUpReport,
    *,
    strict: bool,
    only: frozenset[str] | None = None,
    states: dict[str, Thread | None] | None = None,
) -> None:
    """`states`: those already known (as the store holds them), updated as events fold."""
    if states is None:
        states = {}
    touched: dict[str, Thread] = {}
    pending = 0
    position = start
    for offset, raw in journal.read(partition, start, end):
        position = offset + 1
        try:
            event = decode(raw)
        except Exception:
            # A journal record we cannot read: nothing to fold; the mirror alarms on it.
            log.exception("partition %d offset %d: undecodable journal record", partition, offset)
            report.undecodable += 1
            continue
        if only is not None and event.thread_id not in only:
            continue
        if report.changed is not None:
            # Folded now or before (the store was ahead): changed after the last round.
            report.changed.add(event.thread_id)
        if event.thread_id in states:
            state = states[event.thread_id]
        else:
            state = states[event.thread_id] = store.get(partition, event.thread_id)
        new_state, verdict = fold(state, event)
        if verdict is Verdict.GAP:
            if strict:
                raise _RebuildError(f"thread {event.thread_id} jumps to seq_nr {event.seq_nr}")
            # Rebuilding from the start and still a gap: the journal itself is damaged.
            # Evolve is total, so the state stays usable; the alarm is logged and reported.
            report.journal_gaps.append(f"{event.thread_id}@{event.seq_nr}")
            log.error("journal gap: thread %s seq_nr %d", event.thread_id, event.seq_nr)
            new_state = evolve(state, event)
        if verdict is Verdict.ALREADY_FOLDED:
            report.already_folded += 1
            continue
        report.applied += 1
        if new_state is not None:
            touched[event.thread_id] = states[event.thread_id] = new_state
        pending += 1
        if pending >= COMMIT_EVERY:
            store.commit(partition, touched, position)
            touched, pending = {}, 0
            if len(states) > FOLD_CACHE_MAX:
                states.clear()
    store.commit(partition, touched, max(position, end))
    report.states = {k: v for k, v in states.items() if v is not None}
