"""verify's pure core: every journal record is an item or a dead letter, and every item is
explained by the journal."""

from __future__ import annotations

import pytest

from pipeline.codec import decode_event, encode_event
from pipeline.mirror.items import item_digest, prepare, to_item
from pipeline.mirror.records import DeadLetterReason, dead_letter_headers
from pipeline.mirror.verify import (
    DifferenceKind,
    JournalFold,
    compare_table,
    dead_letter_position,
    scan_digests,
)
from tests.support.builders import THREAD, ulid
from tests.unit.mirror.support import TOPIC, FakeDynamoDB, event, record

pytestmark = pytest.mark.unit

OTHER = ulid(20_002)


def fold_of(*records: object) -> JournalFold:
    fold = JournalFold()
    for r in records:
        fold.add(prepare(r, decode_event))  # type: ignore[arg-type]
    return fold


def digest(e: object, offset: int, partition: int = 0) -> bytes:
    return item_digest(to_item(e, encode_event(e), partition, offset))  # type: ignore[arg-type]


def test_a_faithful_mirror_has_no_differences() -> None:
    one, two, rewritten = event(THREAD, 1), event(THREAD, 2), event(THREAD, 2, "rewritten")
    fold = fold_of(
        record(one, 0), record(one, 1), record(two, 2), record(rewritten, 3), record(b"??", 4)
    )
    table = [((THREAD, 1), digest(one, 0)), ((THREAD, 2), digest(two, 2))]
    report = compare_table(fold, table, {(0, 3): "CONFLICT", (0, 4): "UNDECODABLE"})
    assert report.differences == ()
    assert (report.journal_records, report.table_items, report.duplicates) == (5, 2, 1)
    assert (report.conflicts, report.unmirrorable, report.refused) == (1, 1, ())
    assert report.as_json()["differences"] == 0


def test_records_neither_stored_nor_dead_lettered_are_differences() -> None:
    two, rewritten, three = event(THREAD, 2), event(THREAD, 2, "rewritten"), event(THREAD, 3)
    fold = fold_of(record(two, 0), record(rewritten, 1), record(b"??", 2), record(three, 3))
    report = compare_table(fold, [((THREAD, 2), digest(two, 0))], {})
    assert [(d.kind, d.key, d.journal) for d in report.differences] == [
        (DifferenceKind.NOT_DEAD_LETTERED, None, (0, 2)),
        (DifferenceKind.NOT_DEAD_LETTERED, (THREAD, 2), (0, 1)),
        (DifferenceKind.MISSING, (THREAD, 3), (0, 3)),
    ]


def test_a_refused_event_that_was_dead_lettered_is_not_a_difference() -> None:
    fold = fold_of(record(event(THREAD, 1), 7))
    report = compare_table(fold, [], {(0, 7): "REJECTED"})
    assert report.differences == ()
    assert report.refused == (((THREAD, 1), (0, 7)),)


def test_mismatched_and_extra_items() -> None:
    one, two = event(THREAD, 1), event(THREAD, 2)
    fold = fold_of(record(one, 0), record(two, 1))
    report = compare_table(
        fold,
        [
            ((THREAD, 1), digest(one, 5)),  # right event, wrong journal offset
            ((THREAD, 2), digest(two, 1)),
            ((OTHER, 1), digest(event(OTHER, 1), 0)),
        ],
        {},
    )
    assert {(d.kind, d.key) for d in report.differences} == {
        (DifferenceKind.MISMATCHED, (THREAD, 1)),
        (DifferenceKind.EXTRA, (OTHER, 1)),
    }
    assert report.counts() == {"missing": 0, "mismatched": 1, "extra": 1, "not_dead_lettered": 0}
    mismatched = next(d for d in report.differences if d.kind is DifferenceKind.MISMATCHED)
    assert mismatched.describe() == f"mismatched: thread {THREAD} seq_nr 1 (journal 0@0)"


def test_dead_letter_position_reads_the_source_headers() -> None:
    source = record(event(THREAD, 1), 12, partition=3)
    headers = dead_letter_headers(source, DeadLetterReason.CONFLICT, "differs")
    letter = type(source)("conflicts", 3, 0, source.key, source.value, tuple(headers))
    assert dead_letter_position(letter, TOPIC) == (3, 12)
    assert dead_letter_position(letter, "another-topic") is None
    assert dead_letter_position(type(source)("conflicts", 0, 1, None, b""), TOPIC) is None


def test_scan_digests_reads_every_segment() -> None:
    fake = FakeDynamoDB()
    for seq in range(1, 8):
        e = event(THREAD, seq)
        fake.items[(THREAD, seq)] = to_item(e, encode_event(e), 0, seq)
    found = dict(scan_digests(fake, fake.table, segments=3))
    assert found == {key: item_digest(item) for key, item in fake.items.items()}
