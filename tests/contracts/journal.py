"""The `Journal` contract of pipeline/worker/catchup.py: what catch-up relies on.

`end_offset(partition)` is one past the partition's last record; `read(partition, start,
end)` yields `(offset, bytes)` for every offset in [start, end), in order, and returns once it
reached `end - 1` (catch-up reads up to the end it was just told, never beyond).

Subclass `JournalContract` and supply the `harness` fixture: a fresh journal of at least
`PARTITIONS` empty partitions and a way to append to them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Protocol

import pytest

from pipeline.worker.catchup import Journal

PARTITIONS = 3


class JournalHarness(Protocol):
    @property
    def journal(self) -> Journal: ...

    def append(self, partition: int, values: Sequence[bytes]) -> None:
        """Append `values` to `partition`, in order, and return once they are readable."""


def values(count: int, tag: str) -> list[bytes]:
    return [f"{tag}-{n}".encode() for n in range(count)]


class JournalContract:
    @pytest.fixture
    def harness(self) -> JournalHarness:
        raise NotImplementedError("a contract module supplies the journal under test")

    def test_an_empty_partition_ends_at_zero_and_reads_nothing(
        self, harness: JournalHarness
    ) -> None:
        journal = harness.journal
        assert [journal.end_offset(p) for p in range(PARTITIONS)] == [0] * PARTITIONS
        assert list(journal.read(0, 0, 0)) == []

    def test_the_end_offset_follows_appends(self, harness: JournalHarness) -> None:
        harness.append(1, values(3, "first"))
        assert harness.journal.end_offset(1) == 3
        harness.append(1, values(2, "second"))
        assert harness.journal.end_offset(1) == 5

    def test_a_middle_range_reads_exactly_those_offsets(self, harness: JournalHarness) -> None:
        written = values(8, "middle")
        harness.append(0, written)
        assert list(harness.journal.read(0, 3, 6)) == [(n, written[n]) for n in (3, 4, 5)]

    def test_a_start_at_or_past_the_end_reads_nothing(self, harness: JournalHarness) -> None:
        harness.append(0, values(5, "past"))
        journal = harness.journal
        assert list(journal.read(0, 2, 2)) == []
        assert list(journal.read(0, 4, 1)) == []
        assert list(journal.read(0, 5, 5)) == []

    def test_reading_up_to_the_end_offset_returns_every_record(
        self, harness: JournalHarness
    ) -> None:
        written = values(6, "whole")
        harness.append(2, written)
        journal = harness.journal
        end = journal.end_offset(2)
        assert list(journal.read(2, 0, end)) == list(enumerate(written))
        assert list(journal.read(2, end - 1, end)) == [(end - 1, written[-1])]

    def test_partitions_are_independent(self, harness: JournalHarness) -> None:
        zero, two = values(4, "zero"), values(2, "two")
        harness.append(0, zero)
        harness.append(2, two)
        harness.append(0, values(1, "zero-again"))
        journal = harness.journal
        assert [journal.end_offset(p) for p in range(PARTITIONS)] == [5, 0, 2]
        assert list(journal.read(0, 0, 4)) == list(enumerate(zero))
        assert list(journal.read(2, 0, 2)) == list(enumerate(two))
        assert list(journal.read(1, 0, 0)) == []

    def test_bytes_come_back_as_written(self, harness: JournalHarness) -> None:
        written = [
            b"",  # empty, not absent: the mirror dead-letters it, but it is a record
            b"\x00",
            bytes(range(256)),
            b"\xc3\x01" + os.urandom(100),  # the single-object encoding's marker
            "ünïcödé ✓".encode(),
            os.urandom(512 * 1024),  # a large event; the producer takes 1 MiB records
            b"\x00" * 3,
        ]
        harness.append(1, written)
        read = list(harness.journal.read(1, 0, len(written)))
        assert read == list(enumerate(written))
        assert all(type(value) is bytes for _, value in read)

    def test_a_read_given_up_early_leaves_the_journal_readable(
        self, harness: JournalHarness
    ) -> None:
        written = values(10, "early")
        harness.append(0, written)
        reader = harness.journal.read(0, 0, 10)
        assert next(reader) == (0, written[0])
        close = getattr(reader, "close", None)
        if close is not None:
            close()
        assert list(harness.journal.read(0, 7, 10)) == [(n, written[n]) for n in (7, 8, 9)]
