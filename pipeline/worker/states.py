"""The worker's thread states: the fold of each owned journal partition, held in memory and
stored to the local store now and then (ADR 0002, points 2 and 5).

A partition's states are trusted only once caught up with its journal since this worker got
it. Folds of appended events stay in memory (dirty) with the journal position they reach; the
pair goes to the store in one write, so the store is always a prefix of the journal.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from pipeline.codec import decode_event
from pipeline.domain import Thread
from pipeline.worker import metrics
from pipeline.worker.catchup import CatchUpReport, Journal, catch_up
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


# Folds a partition's journal into the store, from the store's marker to the journal's end
# (catchup.py); blocking, so it runs in a thread.
CatchUp = Callable[[int], CatchUpReport]


def journal_catch_up(store: ThreadStore, journal: Journal) -> CatchUp:
    def fold(partition: int) -> CatchUpReport:
        return catch_up(store, journal, partition, decode_event)

    return fold


class ThreadStates:
    def __init__(self, store: StateStore, catch_up: CatchUp) -> None:
        self._store = store
        self._catch_up = catch_up
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
        report = await self._fold_journal(partition)
        self._caught_up.add(partition)
        metrics.CATCH_UP_EVENTS.labels(str(partition)).inc(report.applied)
        if report.rebuilt:
            metrics.REBUILDS.labels(str(partition)).inc()
        log.info("caught up %s", report)

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

    def forget(self, partitions: Sequence[int]) -> None:
        """Partitions were revoked: whoever gets them back must catch up again."""
        for partition in partitions:
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

    async def warm_standbys(self, partitions: int) -> None:
        """Fold the journal of the partitions this worker does not own into its store, so
        that taking one over after a failure only folds the last few events (a standby)."""
        for partition in range(partitions):
            if partition in self._caught_up:
                continue
            async with self.lock(partition):
                if partition in self._caught_up:
                    continue
                report = await self._fold_journal(partition)
                metrics.STANDBY_EVENTS.labels(str(partition)).inc(report.applied)

    async def _fold_journal(self, partition: int) -> CatchUpReport:
        """Fold the partition's journal into the store; cached states of it become stale."""
        self._store_dirty(partition)
        self._positions.pop(partition, None)
        report = await asyncio.to_thread(self._catch_up, partition)
        self._cache = {k: v for k, v in self._cache.items() if k[0] != partition}
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
