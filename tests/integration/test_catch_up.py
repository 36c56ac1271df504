"""Catch-up folds the journal into a real RocksDB store: in pieces, across commits, and with a
rebuild when the local state cannot continue the journal."""

from __future__ import annotations

import pickle
import random
from pathlib import Path

import pytest
from rocksdict import Options, Rdict

from pipeline.codec import decode_event, encode_event
from pipeline.domain import (
    Accepted,
    AddMessages,
    CreateThread,
    Event,
    NewMessage,
    Thread,
    replay,
)
from pipeline.worker import catchup
from pipeline.worker.store import ThreadStore
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
