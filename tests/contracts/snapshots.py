"""The `SnapshotTopic` contract of pipeline/worker/snapshots.py: what restore and rounds rely on.

`claim(p)` returns a writer of partition p once every earlier writer of p is fenced;
`write_all` makes a round visible whole, or raises and makes none of it visible; `read(p)`
yields the committed records of p oldest first and returns at the end.

Subclass `SnapshotsContract` and supply the `snapshots` fixture: a fresh, empty snapshot
topic of at least 2 partitions.
"""

from __future__ import annotations

import pytest

from pipeline.kafka.producer import OutgoingRecord
from pipeline.worker.snapshots import SnapshotTopic


def records(topic: str, partition: int, tag: str, keys: str = "abc") -> list[OutgoingRecord]:
    return [
        OutgoingRecord(topic, f"{tag}-{key}".encode(), key=key.encode(), partition=partition)
        for key in keys
    ]


def read(snapshots: SnapshotTopic, partition: int) -> list[tuple[bytes | None, bytes]]:
    return [(r.key, r.value) for r in snapshots.read(partition)]


class SnapshotsContract:
    @pytest.fixture
    def snapshots(self) -> SnapshotTopic:
        raise NotImplementedError("a contract module supplies the snapshot topic under test")

    def test_a_partition_never_written_reads_nothing(self, snapshots: SnapshotTopic) -> None:
        assert read(snapshots, 0) == []

    def test_rounds_are_read_back_whole_and_in_order(self, snapshots: SnapshotTopic) -> None:
        writer = snapshots.claim(0)
        writer.write_all(records(snapshots.topic, 0, "r1"))
        writer.write_all(records(snapshots.topic, 0, "r2", keys="b"))
        assert read(snapshots, 0) == [
            (b"a", b"r1-a"),
            (b"b", b"r1-b"),
            (b"c", b"r1-c"),
            (b"b", b"r2-b"),
        ]
        assert read(snapshots, 1) == []
        writer.close()

    def test_a_new_claim_fences_the_earlier_writer(self, snapshots: SnapshotTopic) -> None:
        old = snapshots.claim(1)
        old.write_all(records(snapshots.topic, 1, "old"))
        new = snapshots.claim(1)
        with pytest.raises(Exception):  # noqa: B017, PT011 - each store names its own error
            old.write_all(records(snapshots.topic, 1, "zombie"))
        new.write_all(records(snapshots.topic, 1, "new", keys="a"))
        assert read(snapshots, 1) == [
            (b"a", b"old-a"),
            (b"b", b"old-b"),
            (b"c", b"old-c"),
            (b"a", b"new-a"),
        ]
        old.close()
        new.close()

    def test_claims_are_per_partition(self, snapshots: SnapshotTopic) -> None:
        first = snapshots.claim(0)
        second = snapshots.claim(1)
        first.write_all(records(snapshots.topic, 0, "p0", keys="a"))
        second.write_all(records(snapshots.topic, 1, "p1", keys="a"))
        assert read(snapshots, 0) == [(b"a", b"p0-a")]
        assert read(snapshots, 1) == [(b"a", b"p1-a")]
        first.close()
        second.close()
