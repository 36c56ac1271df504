"""Snapshot rounds and restores of the batch core (states.py, snapshots.py, catchup.py),
against the in-memory broker of test_batch.py and an in-memory snapshot topic.

Expected values are written out: which thread is in which round at which journal position,
where catch-up started reading the journal, the versions the store ends with.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from pipeline.codec import decode_snapshot, encode_command, encode_snapshot
from pipeline.codec.snapshot import StateOmitted, ThreadSnapshot
from pipeline.domain import JoinMemberIds, Thread
from pipeline.kafka.records import Record
from pipeline.worker import snapshots as snapshots_module
from tests.support.builders import ALICE, command, ulid
from tests.support.memory_snapshots import MemorySnapshots
from tests.unit.worker.test_batch import (
    NAMES,
    T0,
    T0B,
    Broker,
    Worker,
    broker,
    cid,
    create,
    join,
    record,
    reply_labels,
)

pytestmark = pytest.mark.unit
__all__ = ["broker"]  # the fixture of test_batch.py, used here by name

BOB_ADMIN = "01HF7YAT0000000000000000B0"  # no administrator of any thread here: rejected


def admit(thread: str, n: int) -> bytes:
    """ALICE (the creator) lets a member in who was never in: always one new event."""
    return encode_command(
        command(JoinMemberIds((ulid(20_000 + n),)), sender=ALICE, thread=thread, cid=cid(n))
    )


def rounds(snapshots: MemorySnapshots, partition: int = 0) -> list[str]:
    """Each snapshot record of the partition as `thread vVERSION @POSITION` (or `omitted`)."""
    labels = []
    for r in snapshots.logs[partition]:
        snapshot = decode_snapshot(r.value)
        state = snapshot.state
        what = "omitted" if isinstance(state, StateOmitted) else f"v{state.version}"
        labels.append(f"{NAMES[snapshot.thread_id]} {what} @{snapshot.journal_offset}")
    return labels


def put(snapshots: MemorySnapshots, thread_id: str, value: bytes, partition: int = 0) -> None:
    log = snapshots.logs[partition]
    log.append(Record(snapshots.topic, partition, len(log), thread_id.encode(), value))


async def first_owner(broker: Broker, snapshots: MemorySnapshots, every: int = 2) -> Worker:
    """T0 created and joined (journal 0: T0#1, 1: T0#2), T0B created (2: T0B#1); one round."""
    worker = Worker(broker, snapshots=snapshots, every_events=every)
    await worker.executor.process(
        [
            record(create(T0, cid(1)), 0, 0),
            record(admit(T0, 2), 0, 1),
            record(create(T0B, cid(3)), 0, 2, key=T0B),
        ]
    )
    assert worker.rounds is not None
    await worker.rounds.drain()
    return worker


async def test_a_claim_without_a_round_writes_every_thread_and_a_new_owner_restores_it(
    broker: Broker,
) -> None:
    snapshots = MemorySnapshots()
    await first_owner(broker, snapshots)
    assert rounds(snapshots) == ["T0 v2 @3", "T0B v1 @3"]

    fresh = Worker(broker, snapshots=snapshots)
    await fresh.executor.process([record(join(T0, cid(4), sender=BOB_ADMIN), 0, 3)])
    # Restored at 3: nothing of the journal before it is read.
    assert fresh.journal.reads == [(0, 3, 3)]
    assert reply_labels(fresh.producer) == ["reply T0 SENDER_NOT_ADMINISTRATOR"]
    assert fresh.store.versions() == {(0, "T0"): 2, (0, "T0B"): 1}


async def test_a_round_writes_only_the_threads_changed_since_the_last(broker: Broker) -> None:
    snapshots = MemorySnapshots()
    worker = await first_owner(broker, snapshots)
    await worker.executor.process([record(admit(T0B, 5), 0, 3, key=T0B)])
    await worker.executor.process([record(join(T0B, cid(6), sender=BOB_ADMIN), 0, 4, key=T0B)])
    assert worker.rounds is not None
    await worker.rounds.drain()
    # One event since the round: not due yet (every 2); a rejection appends nothing.
    assert rounds(snapshots) == ["T0 v2 @3", "T0B v1 @3"]
    await worker.executor.process([record(admit(T0, 7), 0, 5)])
    await worker.rounds.drain()
    assert rounds(snapshots)[2:] == ["T0 v3 @5", "T0B v2 @5"]


async def test_a_new_owner_fences_the_previous_ones_rounds(broker: Broker) -> None:
    snapshots = MemorySnapshots()
    old = await first_owner(broker, snapshots)
    new = Worker(broker, snapshots=snapshots, every_events=1)
    await new.executor.process([record(admit(T0B, 5), 0, 3, key=T0B)])
    assert new.rounds is not None
    await new.rounds.drain()
    # The old owner, paused past its session, wakes and decides a command it still holds.
    await old.executor.process([record(admit(T0, 6), 0, 4)])
    assert old.rounds is not None
    await old.rounds.drain()
    assert rounds(snapshots) == ["T0 v2 @3", "T0B v1 @3", "T0B v2 @4"]


async def test_an_unreadable_snapshot_is_folded_from_the_journal(broker: Broker) -> None:
    snapshots = MemorySnapshots()
    await first_owner(broker, snapshots)
    put(snapshots, T0, b"\xc3\x01garbage")
    fresh = Worker(broker, snapshots=snapshots)
    await fresh.executor.process([record(admit(T0, 4), 0, 3)])
    # T0 from the journal's start (T0B's events skipped), then the journal after the round.
    assert fresh.journal.reads == [(0, 0, 3), (0, 3, 3)]
    assert reply_labels(fresh.producer) == ["reply T0 v3"]
    fresh.executor.store_all()
    assert fresh.store.versions() == {(0, "T0"): 3, (0, "T0B"): 1}


async def test_a_state_too_large_for_a_record_is_omitted_and_folded_from_the_journal(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = MemorySnapshots()
    await first_owner(Broker(), scratch)
    sizes = {NAMES[decode_snapshot(r.value).thread_id]: len(r.value) for r in scratch.logs[0]}
    assert sizes["T0B"] < sizes["T0"]
    # T0 (more members, two commands) no longer fits; T0B still does.
    overhead = snapshots_module.RECORD_OVERHEAD_BYTES
    monkeypatch.setattr(snapshots_module, "RECORD_MAX_BYTES", sizes["T0B"] + overhead)
    snapshots = MemorySnapshots()
    await first_owner(broker, snapshots)
    assert rounds(snapshots) == ["T0 omitted @3", "T0B v1 @3"]
    fresh = Worker(broker, snapshots=snapshots)
    await fresh.executor.process([record(admit(T0, 4), 0, 3)])
    assert fresh.journal.reads == [(0, 0, 3), (0, 3, 3)]
    assert reply_labels(fresh.producer) == ["reply T0 v3"]
    fresh.executor.store_all()
    assert fresh.store.versions() == {(0, "T0"): 3, (0, "T0B"): 1}


async def test_snapshots_ahead_of_the_journal_are_not_used(broker: Broker) -> None:
    snapshots = MemorySnapshots()
    await first_owner(broker, snapshots)
    state = decode_snapshot(snapshots.logs[0][0].value).state
    assert isinstance(state, Thread)
    put(snapshots, T0, encode_snapshot(ThreadSnapshot(T0, 0, 99, state)))
    fresh = Worker(broker, snapshots=snapshots)
    await fresh.executor.process([record(admit(T0, 4), 0, 3)])
    assert fresh.journal.reads == [(0, 0, 3)]
    assert reply_labels(fresh.producer) == ["reply T0 v3"]


async def test_a_snapshot_the_journal_contradicts_makes_a_rebuild_from_the_journal(
    broker: Broker,
) -> None:
    snapshots = MemorySnapshots()
    first = await first_owner(broker, snapshots)
    await first.executor.process([record(admit(T0, 4), 0, 3)])  # journal 3: T0#3
    # A snapshot of T0 at version 1 claiming every event below 3: T0#3 then leaves a gap.
    older = Worker(Broker())
    await older.executor.process([record(create(T0, cid(1)), 0, 0)])
    older.executor.store_all()
    v1 = older.store.get(0, T0)
    assert v1 is not None
    assert v1.version == 1
    put(snapshots, T0, encode_snapshot(ThreadSnapshot(T0, 0, 3, v1)))
    fresh = Worker(broker, snapshots=snapshots)
    await fresh.executor.process([record(join(T0, cid(5), sender=BOB_ADMIN), 0, 4)])
    assert fresh.journal.reads == [(0, 3, 4), (0, 0, 4)]
    fresh.executor.store_all()
    assert fresh.store.versions() == {(0, "T0"): 3, (0, "T0B"): 1}


async def test_a_warm_store_ahead_of_the_round_has_the_threads_changed_since_written(
    broker: Broker,
) -> None:
    snapshots = MemorySnapshots()
    worker = Worker(broker, snapshots=snapshots, every_events=100)
    await worker.executor.process(
        [record(create(T0, cid(1)), 0, 0), record(create(T0B, cid(2)), 0, 1, key=T0B)]
    )
    assert worker.rounds is not None
    await worker.rounds.drain()
    assert rounds(snapshots) == ["T0 v1 @2", "T0B v1 @2"]
    await worker.executor.process([record(admit(T0B, 3), 0, 2, key=T0B)])
    worker.executor.store_all()  # stored, then the process dies before the next round
    restarted = worker.restarted()
    await restarted.executor.process([record(join(T0, cid(4), sender=BOB_ADMIN), 0, 3)])
    assert restarted.rounds is not None
    await restarted.rounds.drain()
    # From the round on (T0B#2 is already in the store): T0B changed since, so it is written.
    assert restarted.journal.reads == [(0, 2, 3)]
    assert rounds(snapshots)[2:] == ["T0B v2 @3"]


async def test_a_failed_round_leaves_its_threads_to_the_next(broker: Broker) -> None:
    snapshots = MemorySnapshots()
    snapshots.failing = True
    worker = await first_owner(broker, snapshots)
    assert rounds(snapshots) == []
    snapshots.failing = False
    await worker.executor.process([record(admit(T0B, 5), 0, 3, key=T0B)])
    assert worker.rounds is not None
    await worker.rounds.drain()
    # Due at once (no waiting for more events), with the threads of the failed round.
    assert rounds(snapshots) == ["T0 v2 @4", "T0B v2 @4"]


async def test_a_graceful_stop_writes_a_last_round(broker: Broker) -> None:
    snapshots = MemorySnapshots()
    worker = await first_owner(broker, snapshots, every=100)
    await worker.executor.process([record(admit(T0B, 5), 0, 3, key=T0B)])
    await worker.executor.quiesce()
    assert rounds(snapshots) == ["T0 v2 @3", "T0B v1 @3", "T0B v2 @4"]


async def test_a_revoked_partition_writes_a_last_round(broker: Broker) -> None:
    snapshots = MemorySnapshots()
    worker = await first_owner(broker, snapshots, every=100)
    await worker.executor.process([record(admit(T0B, 5), 0, 3, key=T0B)])
    worker.executor.forget([0])
    assert worker.rounds is not None
    await worker.rounds.drain()
    assert rounds(snapshots) == ["T0 v2 @3", "T0B v1 @3", "T0B v2 @4"]
    # Released: the writer is closed once its last round is written.
    assert not worker.rounds.owns(0)


def test_a_partition_claimed_again_closes_its_earlier_writer() -> None:
    snapshots = MemorySnapshots()
    rounds_of = snapshots_module.Rounds(snapshots, every_events=1, interval_s=60)
    rounds_of.claim(0)
    rounds_of.claim(0)
    assert [writer.closed for writer in snapshots.writers] == [True, False]


@pytest.mark.parametrize("enabled", [True, False])
def test_the_cyclic_collector_is_off_while_a_round_is_decoded_and_as_it_was_after(
    enabled: bool,
) -> None:
    seen: list[bool] = []

    def records() -> Iterator[Record]:
        seen.append(gc.isenabled())
        yield from ()

    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        assert snapshots_module.last_round(records(), 0, 10) is None
        assert seen == [False]
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
