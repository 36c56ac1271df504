"""Catch a partition's thread states up to the end of its journal partition.

The journal is the truth and the store only a cache: catch-up folds every event after the
store's marker, skips events the store already holds, and when the store and the journal
disagree (a gap in a thread's seq_nrs, an unreadable state, a marker past the journal's end)
it throws the partition's cache away and rebuilds it from the start of the journal.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

from pipeline.domain import Event, Thread, evolve
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


class _RebuildError(Exception):
    pass


def catch_up(
    store: ThreadStore,
    journal: Journal,
    partition: int,
    decode: Callable[[bytes], Event],
) -> CatchUpReport:
    start = store.journal_position(partition)
    end = journal.end_offset(partition)
    report = CatchUpReport(partition, start, end)
    if start > end:
        log.warning(
            "partition %d: store marker %d is past the journal end %d", partition, start, end
        )
    else:
        try:
            _fold_range(store, journal, partition, decode, start, end, report, strict=True)
            return report
        except (_RebuildError, UnreadableStateError) as exc:
            log.warning("partition %d: local state inconsistent (%s): rebuilding", partition, exc)
    store.reset_partition(partition)
    report = CatchUpReport(partition, 0, end, rebuilt=True)
    _fold_range(store, journal, partition, decode, 0, end, report, strict=False)
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
) -> None:
    states: dict[str, Thread | None] = {}
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
