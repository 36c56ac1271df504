"""Catch-up folds the journal into a real RocksDB store: in pieces, across commits, and with a
rebuild when the local state cannot continue the journal."""

from __future__ import annotations

import pickle
import random
from pathlib import Path

import pytest
from rocksdict import Options, Rdict

from pipeline.codec import decode_event, encode_event, encode_snapshot
from pipeline.codec.snapshot import ThreadSnapshot
from pipeline.domain import (
    Accepted,
    AddMessages,
    CreateThread,
    Event,
    NewMessage,
    Thread,
    evolve,
    replay,
)
from pipeline.worker import catchup
from pipeline.worker.snapshots import Round
from pipeline.worker.store import ThreadStore, UnreadableStateError
from tests.support.builders import ALICE, BOB, Aggregate, command, ulid
from tests.support.list_journal import ListJournal

pytestmark = pytest.mark.integration


def journal_of(threads: int, posts: int) -> tuple[list[Event], dict[str, Aggregate]]:
    """Events of `threads` threads interleaved in one partition, and each thread's aggregate."""
    rng = random.Random(5)
    aggregates: dict[str, Aggregate] = {}
    events: list[Event] = []
    for _ in range(threads):
        thread_id = ulid()
        agg = aggregates[thread_id] = Aggregate()
        decision = agg.handle(command(CreateThread("t", (), (BOB,)), thread=thread_id))
        assert isinstance(decision, Accepted)
        events.extend(decision.events)
    for _ in range(posts):
        thread_id = rng.choice(list(aggregates))
        body = AddMessages((NewMessage(ulid(), "hello"),))
        decision = aggregates[thread_id].handle(command(body, thread=thread_id, sender=BOB))
        assert isinstance(decision, Accepted)
        events.extend(decision.events)
    return events, aggregates


def states_of(aggregates: dict[str, Aggregate]) -> dict[str, Thread | None]:
    return {thread_id: agg.state for thread_id, agg in aggregates.items()}


def stored(store: ThreadStore) -> dict[str, Thread | None]:
    return dict(store.states(0))


def test_a_fold_across_many_commits_equals_replay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catchup, "COMMIT_EVERY", 7)  # many commits, threads spanning them
    events, aggregates = journal_of(threads=5, posts=120)
    records = [encode_event(e) for e in events]
    store = ThreadStore(tmp_path / "s")
    try:
        half = len(records) // 2
        first = catchup.catch_up(store, ListJournal(records[:half]), 0, decode_event)
        assert (first.applied, store.journal_position(0)) == (half, half)
        second = catchup.catch_up(store, ListJournal(records), 0, decode_event)
        assert (second.start, second.applied, second.rebuilt) == (half, len(records) - half, False)
        assert store.journal_position(0) == len(records)
        assert stored(store) == states_of(aggregates)
    finally:
        store.close()


def test_a_state_that_cannot_continue_the_journal_is_rebuilt(tmp_path: Path) -> None:
    events, aggregates = journal_of(threads=3, posts=30)
    records = [encode_event(e) for e in events]
    store = ThreadStore(tmp_path / "s")
    try:
        catchup.catch_up(store, ListJournal(records), 0, decode_event)
        # The local copy of one thread falls back to its first version (a torn or old store).
        victim = events[0].thread_id
        stale = replay([e for e in events if e.thread_id == victim][:1])
        assert isinstance(stale, Thread)
        store.commit(0, {victim: stale}, store.journal_position(0))
        decision = aggregates[victim].handle(
            command(AddMessages((NewMessage(ulid(), "late"),)), thread=victim, sender=ALICE)
        )
        assert isinstance(decision, Accepted)
        records += [encode_event(e) for e in decision.events]
        report = catchup.catch_up(store, ListJournal(records), 0, decode_event)
        assert report.rebuilt
        assert stored(store) == states_of(aggregates)
    finally:
        store.close()


def test_a_store_of_an_older_format_is_emptied_and_rebuilt(tmp_path: Path) -> None:
    events, aggregates = journal_of(threads=3, posts=30)
    records = [encode_event(e) for e in events]
    store = ThreadStore(tmp_path / "s")
    try:
        catchup.catch_up(store, ListJournal(records), 0, decode_event)
    finally:
        store.close()
    # What an older worker left: its states in its own layout, no record of the format; a
    # batch would meet such a state of a thread catch-up does not touch, and fail on it.
    db = Rdict(str(tmp_path / "s"), Options(raw_mode=True))
    try:
        db.delete(b"format")
        old = b"\x02" + pickle.dumps(tuple(range(15)))
        for thread_id in aggregates:
            db.put(b"s/0/%s" % thread_id.encode(), old)
    finally:
        db.close()
    store = ThreadStore(tmp_path / "s")
    try:
        assert store.journal_position(0) == 0
        assert stored(store) == {}
        report = catchup.catch_up(store, ListJournal(records), 0, decode_event)
        assert (report.start, report.applied) == (0, len(records))
        assert stored(store) == states_of(aggregates)
        # Opened again in the current format, nothing is lost.
        store.close()
        store = ThreadStore(tmp_path / "s")
        assert store.journal_position(0) == len(records)
        assert stored(store) == states_of(aggregates)
    finally:
        store.close()


def test_restored_snapshot_records_read_back_as_states_and_a_torn_one_as_unreadable(
    tmp_path: Path,
) -> None:
    events, aggregates = journal_of(threads=3, posts=30)
    frames = {
        thread_id: encode_snapshot(ThreadSnapshot(thread_id, 0, len(events), agg.state))
        for thread_id, agg in aggregates.items()
        if isinstance(agg.state, Thread)
    }
    store = ThreadStore(tmp_path / "s")
    try:
        store.commit(0, {"gone": replay(events[:1])}, 1)  # type: ignore[dict-item]
        store.restore(0, frames, len(events))
        assert store.journal_position(0) == len(events)
        assert stored(store) == states_of(aggregates)  # "gone" went with the restore
        # Closed and opened again: the frames are still states.
        store.close()
        store = ThreadStore(tmp_path / "s")
        assert stored(store) == states_of(aggregates)
        victim = next(iter(frames))
        store.restore(0, {victim: frames[victim][:-7]}, len(events))
        with pytest.raises(UnreadableStateError):
            store.get(0, victim)
    finally:
        store.close()


def test_a_restore_hands_its_states_to_the_caller(tmp_path: Path) -> None:
    """The worker keeps them in memory: its first commands read no state back from disk."""
    events, aggregates = journal_of(threads=3, posts=30)
    records = [encode_event(e) for e in events]
    cut = len(records) - 10
    folded: dict[str, Thread] = {}
    for event in events[:cut]:
        folded[event.thread_id] = evolve(folded.get(event.thread_id), event)  # type: ignore[assignment]
    frames = {t: encode_snapshot(ThreadSnapshot(t, 0, cut, s)) for t, s in folded.items()}
    round_ = Round(cut, folded, frozenset(), frames)
    store = ThreadStore(tmp_path / "s")
    try:
        report = catchup.catch_up(store, ListJournal(records), 0, decode_event, lambda _end: round_)
        assert report.restored_threads == len(aggregates)
        assert report.applied == 10
        assert report.states == states_of(aggregates)
        assert stored(store) == states_of(aggregates)
    finally:
        store.close()
