"""Snapshots on the real broker: a worker that stops writes a last round, and a fresh worker
(empty disk) restores every partition from the rounds and folds no journal before them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipeline.client import CommandClient, CommandFactory
from pipeline.client.commands import new_id
from pipeline.codec import decode_snapshot
from pipeline.codec.snapshot import ThreadSnapshot
from pipeline.kafka.offsets import end_offsets
from pipeline.kafka.replies import CommandAccepted
from pipeline.kafka.scanner import read_committed
from pipeline.settings import Settings
from tests.support.processes import worker

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ALICE = new_id()

CAUGHT_UP = re.compile(
    r"caught up partition (\d+): (\d+) events folded \((\d+)\.\.(\d+)\), (\d+) threads restored "
    r"from snapshots at (\w+)"
)


def latest_snapshots(settings: Settings) -> dict[str, ThreadSnapshot]:
    latest: dict[str, ThreadSnapshot] = {}
    for partition in range(settings.partitions):
        for record in read_committed(
            settings.kafka, settings.topics.snapshots, partition, group_id="tests-snapshots"
        ):
            snapshot = decode_snapshot(record.value)
            latest[snapshot.thread_id] = snapshot
    return latest


async def test_a_fresh_worker_restores_from_the_last_round(stack: object, tmp_path: Path) -> None:
    settings: Settings = stack.settings()  # type: ignore[attr-defined]
    factory = CommandFactory()
    first = worker(settings, tmp_path, "snapshots-first")
    first.start()
    threads: dict[str, int] = {}
    try:
        async with CommandClient(settings) as client:
            for n in range(24):  # threads on every partition
                thread_id = new_id()
                create = factory.create_thread(ALICE, f"t{n}", thread_id=thread_id)
                reply = await client.send(create, 120)
                assert isinstance(reply, CommandAccepted)
                reply = await client.send(factory.post(thread_id, ALICE, f"hello {n}"), 120)
                assert isinstance(reply, CommandAccepted)
                threads[thread_id] = reply.version
    finally:
        assert first.stop() == 0, first.log_tail()
    ends = end_offsets(settings.kafka, settings.topics.events, range(settings.partitions))

    # The stop wrote a last round: each thread at its last version, folded to the journal's end.
    latest = latest_snapshots(settings)
    for thread_id, version in threads.items():
        snapshot = latest[thread_id]
        assert getattr(snapshot.state, "version", None) == version
        assert snapshot.journal_offset == ends[snapshot.journal_partition]

    fresh = worker(settings, tmp_path, "snapshots-fresh")
    fresh.start()
    try:
        async with CommandClient(settings) as client:
            for thread_id, version in threads.items():
                reply = await client.send(factory.post(thread_id, ALICE, "again"), 120)
                assert isinstance(reply, CommandAccepted), reply
                assert reply.version == version + 1
    finally:
        assert fresh.stop() == 0, fresh.log_tail()
    caught_up = [m.groups() for m in CAUGHT_UP.finditer(fresh.log_path.read_text())]
    assert sorted(int(p) for p, *_ in caught_up) == list(range(settings.partitions))
    for partition, folded, start, end, restored, restored_from in caught_up:
        # Restored at the journal's end as it was: nothing of the journal folded.
        assert int(restored) > 0
        assert restored_from == str(ends[int(partition)])
        assert (int(folded), int(start), int(end)) == (
            0,
            ends[int(partition)],
            ends[int(partition)],
        )
