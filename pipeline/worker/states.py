"""The worker's thread states: the fold of each owned journal partition, held in memory and
stored to the local store now and then (ADR 0002, points 2 and 5).

A partition's states are trusted only once caught up with its journal since this worker got
it. Folds of appended events stay in memory (dirty) with the journal position they reach; the
pair goes to the store in one write, so the store is always a prefix of the journal. The
owner of a partition also writes its changed states to the snapshot topic in rounds
(snapshots.py), from which the next owner restores.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Protocol

from pipeline.codec import decode_event
from pipeline.domain import Thread
from pipeline.worker import metrics
from pipeline.worker.catchup import CatchUpReport, Journal, catch_up
from pipeline.worker.snapshots import Round, Rounds, SnapshotTopic, last_round
from pipeline.worker.store import ThreadStore

log = logging.getLogger(__name__)

CACHE_MAX = 20_000
# Thread states reach the store at most this often (and at revocation and shutdown), not after
# every batch: storing re-serialises each touched thread, the largest cost in the profile.
# A crash loses only unstored folds; catch-up re-folds them from the journal, the truth.
STORE_INTERVAL_S = 5.0
STORE_MAX_DIRTY = 20_000


class StateStore(Protocol):
    """What the states need of the local store (store.py's ThreadStore)."""

    def get(self, partition: int, thread_id: str) -> Thread | None: ...

    def journal_position(self, partition: int) -> int: ...

    def commit(self, partition: int, states: Mapping[str, Thread], position: int) -> None: ...

    def states(self, partition: int) -> Iterator[tuple[str, Thread]]: ...


# Folds a partition's journal into the store, from the store's marker (or the snapshots, for
# an owner: second argument True) to the journal's end (catchup.py); blocking, so it runs in a
# thread.
CatchUp = Callable[[int, bool], CatchUpReport]


def journal_catch_up(
    store: ThreadStore,
    journal: Journal,
    snapshots: SnapshotTopic | None = None,
    rounds: Rounds | None = None,
) -> CatchUp:
    def fold(partition: int, owner: bool) -> CatchUpReport:
        if not owner or snapshots is None or rounds is None:
            return catch_up(store, journal, partition, decode_event)
        started = time.perf_counter()
        try:
            # Before reading: no earlier owner's round can land after what is read.
            rounds.claim(partition)
        except Exception:
            log.exception("partition %d: snapshot writer not claimed: no snapshots", partition)
            return catch_up(store, journal, partition, decode_event)

        def restore_point(end: int) -> Round | None:
            try:
                return last_round(snapshots.read(partition), partition, end)
            except Exception:
                log.exception("partition %d: snapshots unreadable: folding the journal", partition)
                return None

        claimed = time.perf_counter() - started
        report = catch_up(store, journal, partition, decode_event, restore_point)
        report.steps_s = {"claim": claimed} | report.steps_s
        return report

    return fold


class ThreadStates:
    def __init__(self, store: StateStore, catch_up: CatchUp, rounds: Rounds | None = None) -> None:
        self._store = store
        self._catch_up = catch_up
        self._rounds = rounds
        self._caught_up: set[int] = set()
        self._cache: dict[tuple[int, str], Thread] = {}
        # Folded states not yet in the store, and the journal offset each partition's states
        # (stored + dirty) are folded up to; the pair is always consistent, so storing it at
        # any moment leaves the store a prefix of the journal.
        self._dirty: dict[int, dict[str, Thread]] = {}
        self._positions: dict[int, int] = {}
        self._stored_at = time.monotonic()
        # One writer of a partition's store at a time: the batch that owns it, or the standby
        # warmer while nobody owns it here.
        self._locks: dict[int, asyncio.Lock] = {}

    def lock(self, partition: int) -> asyncio.Lock:
        return self._locks.setdefault(partition, asyncio.Lock())

    async def ensure_caught_up(self, partition: int) -> None:
        """Fold the journal into the partition's states unless done since it was assigned
        (or since an append landed elsewhere than expected). Hold the partition's lock."""
        if partition in self._caught_up:
            return
        if self._rounds is not None:
            # The last round of this worker's previous ownership (started at revocation):
            # committed before claiming again, or the claim would fence it.
            await self._rounds.settle(partition)
        report = await self._fold_journal(partition, owner=True)
        self._caught_up.add(partition)
        metrics.CATCH_UP_EVENTS.labels(str(partition)).inc(report.applied)
        metrics.RESTORED_THREADS.labels(str(partition)).inc(report.restored_threads)
        if report.rebuilt:
            metrics.REBUILDS.labels(str(partition)).inc()
        if self._rounds is not None and self._rounds.owns(partition):
            self._rounds.claimed(partition, report.changed)
        log.info(
            "caught up partition %d: %d events folded (%d..%d), %d threads restored from "
            "snapshots at %s, %d changed since, rebuilt: %s; %.2f s (%s)",
            partition,
            report.applied,
            report.start,
            report.end,
            report.restored_threads,
            report.restored_from,
            -1 if report.changed is None else len(report.changed),
            report.rebuilt,
            report.seconds,
            ", ".join(f"{step} {seconds:.2f} s" for step, seconds in report.steps_s.items()),
        )

    def get(self, partition: int, thread_id: str) -> Thread | None:
        dirty = self._dirty.get(partition)
        if dirty is not None and thread_id in dirty:
            return dirty[thread_id]
        cached = self._cache.get((partition, thread_id))
        if cached is not None:
            return cached
        return self._store.get(partition, thread_id)

    def appended(self, appends: Mapping[int, tuple[Mapping[str, Thread], Sequence[int]]]) -> None:
        """The journal acknowledged appends, per partition: the states folded with the
        appended events, and the offsets the events landed at (in append order)."""
        for partition, (states, offsets) in appends.items():
            position = self._position(partition)
            self._dirty.setdefault(partition, {}).update(states)
            if list(offsets) == list(range(position, position + len(offsets))):
                self._positions[partition] = offsets[-1] + 1
            else:
                # Someone else appended to this journal partition (or the marker lags): keep
                # the position, and catch up from it before the next batch (catch-up skips the
                # events these states already hold).
                log.warning(
                    "journal partition %d: appended at %s, expected from %d: catching up",
                    partition,
                    list(offsets[:3]),
                    position,
                )
                self._store_dirty(partition)
                self._caught_up.discard(partition)
            for thread_id, state in states.items():
                self._cache[(partition, thread_id)] = state
            if self._rounds is not None:
                self._rounds.changed(partition, states, len(offsets))
        if len(self._cache) > CACHE_MAX:
            self._cache.clear()

    def store_if_due(self) -> None:
        dirty = sum(len(states) for states in self._dirty.values())
        if dirty >= STORE_MAX_DIRTY or time.monotonic() - self._stored_at >= STORE_INTERVAL_S:
            self.store_all()

    def store_all(self) -> None:
        for partition in list(self._dirty):
            self._store_dirty(partition)
        self._stored_at = time.monotonic()

    async def snapshot_if_due(self, partitions: Iterable[int], *, final: bool = False) -> None:
        """Start the due snapshot rounds of `partitions` (whose locks the caller holds, so the
        captured states and position agree); they are written in the background."""
        if self._rounds is None:
            return
        for partition in partitions:
            if partition not in self._caught_up or not self._rounds.due(partition, final=final):
                continue
            thread_ids = self._rounds.take(partition)
            if thread_ids is None:
                dirty = dict(self._dirty.get(partition, {}))
                states = await asyncio.to_thread(self._all_states, partition, dirty)
            else:
                states = self._states_of(partition, thread_ids)
            self._rounds.start(partition, states, self._position(partition))

    def _last_round(self, partition: int) -> None:
        """A round of what changed, started as the partition is revoked (a rebalance, a
        stop), so that its next owner folds little or no journal. Not when every thread is
        to be written: reading them all would hold up the rebalance; the next owner then
        folds the journal after the last round."""
        assert self._rounds is not None
        if partition not in self._caught_up or not self._rounds.due(partition, final=True):
            return
        thread_ids = self._rounds.peek(partition)
        if thread_ids is None:
            return
        self._rounds.take(partition)
        self._rounds.start(
            partition, self._states_of(partition, thread_ids), self._position(partition)
        )

    def _states_of(self, partition: int, thread_ids: Iterable[str]) -> dict[str, Thread]:
        states = {}
        for thread_id in sorted(thread_ids):
            state = self.get(partition, thread_id)
            if state is not None:
                states[thread_id] = state
        return states

    def _all_states(self, partition: int, dirty: Mapping[str, Thread]) -> dict[str, Thread]:
        states = dict(self._store.states(partition))
        states.update(dirty)
        return states

    def forget(self, partitions: Sequence[int]) -> None:
        """Partitions were revoked: whoever gets them back must catch up again."""
        for partition in partitions:
            if self._rounds is not None:
                self._last_round(partition)
                self._rounds.release(partition)
            self._caught_up.discard(partition)
            # Keeps this worker's copy warm (a standby) and its memory bounded.
            self._store_dirty(partition)
        self._cache = {k: v for k, v in self._cache.items() if k[0] not in set(partitions)}

    async def quiesce(self) -> None:
        """Wait until no batch or standby warm-up uses the store, keep it that way, and store
        what is folded in memory only."""
        for partition in sorted(self._locks):
            await self._locks[partition].acquire()
        self.store_all()
        if self._rounds is not None:
            # A last round of what changed (after the round being written, which a partition
            # has at most one of): the next owner then folds no journal at all.
            await self._rounds.drain()
            await self.snapshot_if_due(sorted(self._caught_up), final=True)
            await self._rounds.close()

    async def warm_standbys(self, partitions: int) -> None:
        """Fold the journal of the partitions this worker does not own into its store, so
        that taking one over after a failure only folds the last few events (a standby)."""
        for partition in range(partitions):
            if partition in self._caught_up:
                continue
            async with self.lock(partition):
                if partition in self._caught_up:
                    continue
                report = await self._fold_journal(partition, owner=False)
                metrics.STANDBY_EVENTS.labels(str(partition)).inc(report.applied)

    async def _fold_journal(self, partition: int, *, owner: bool) -> CatchUpReport:
        """Fold the partition's journal into the store; cached states of it become stale."""
        self._store_dirty(partition)
        self._positions.pop(partition, None)
        report = await asyncio.to_thread(self._catch_up, partition, owner)
        self._cache = {k: v for k, v in self._cache.items() if k[0] != partition}
        if owner:
            # Bounded like the cache itself: past CACHE_MAX, reads go to the store.
            for thread_id, state in list(report.states.items())[:CACHE_MAX]:
                self._cache[(partition, thread_id)] = state
        return report

    def _store_dirty(self, partition: int) -> None:
        states = self._dirty.pop(partition, None)
        if states:
            self._store.commit(partition, states, self._positions[partition])

    def _position(self, partition: int) -> int:
        position = self._positions.get(partition)
        if position is None:
            position = self._positions[partition] = self._store.journal_position(partition)
        return position
