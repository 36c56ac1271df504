"""verify's pure core: every journal record is an item or a dead letter, and every item is
explained by the journal."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import get_args

import pytest

from pipeline.codec import decode_event, encode_event
from pipeline.domain import AddedMessage, Event, MessagesAdded
from pipeline.domain.events import EventBody
from pipeline.kafka.dead_letters import REASON_HEADER
from pipeline.kafka.records import Record
from pipeline.mirror import items
from pipeline.mirror.batch import BatchMirror
from pipeline.mirror.items import Item, item_digest, item_size, to_item
from pipeline.mirror.records import DeadLetterReason, dead_letter_headers
from pipeline.mirror.verify import (
    EVENT_TYPES,
    DifferenceKind,
    JournalFold,
    NotAnItem,
    VerifyReport,
    compare_table,
    dead_letter_position,
    dynamodb_size,
    expect,
    expected_item,
    scan_digests,
)
from pipeline.mirror.writer import DynamoWriter, RetryPolicy
from pipeline.settings import WriteMethod
from tests.support.builders import ALICE, T0, THREAD, ulid
from tests.support.journal import SyntheticJournal
from tests.unit.mirror.support import TOPIC, FakeDynamoDB, Letters, event, record

pytestmark = pytest.mark.unit

OTHER = ulid(20_002)


def fold_of(*records: object) -> JournalFold:
    fold = JournalFold()
    for r in records:
        fold.add(expect(r, decode_event))  # type: ignore[arg-type]
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


# -- independence: verify states the expected item itself -----------------------------------


def mirrored(records: list[Record]) -> tuple[FakeDynamoDB, dict[tuple[int, int], str]]:
    """The table and dead letters the mirror leaves after one batch of `records`."""
    fake, letters = FakeDynamoDB(), Letters()
    writer = DynamoWriter(fake, fake.table, RetryPolicy(), 2, sleep=lambda _s: None)
    try:
        BatchMirror(writer, letters, WriteMethod.BATCH, retry_deadline_s=60).process(records)
    finally:
        writer.close()
    return fake, {(r.partition, r.offset): h[REASON_HEADER].decode() for r, h in letters.sent}


def verified(
    records: list[Record], fake: FakeDynamoDB, letters: dict[tuple[int, int], str]
) -> VerifyReport:
    fold = fold_of(*records)
    return compare_table(fold, scan_digests(fake, fake.table, segments=2), letters)


def journal_records() -> list[Record]:
    journal = SyntheticJournal(seed=21, threads=4, commands=120)
    journal.destroy_some(0.5)
    return [record(e, offset) for offset, e in enumerate(journal.events)]


def test_verify_agrees_with_a_faithful_mirror_on_every_event_type() -> None:
    records = journal_records()
    names = {decode_event(r.value).name for r in records if r.value is not None}
    assert names == set(EVENT_TYPES.values()), "the journal should hold every event type"
    report = verified(records, *mirrored(records))
    assert report.differences == ()
    assert report.table_items == len(records)


def wrong_occurred_at(item: Item) -> Item:
    return {**item, "occurred_at": {"S": item["occurred_at"]["S"].replace(".000Z", "Z")}}


def wrong_event_type(item: Item) -> Item:
    return {**item, "event_type": {"S": item["event_type"]["S"].lower()}}


def wrong_offset(item: Item) -> Item:
    return {**item, "journal_offset": {"N": str(int(item["journal_offset"]["N"]) + 1)}}


def swapped_ids(item: Item) -> Item:
    return {**item, "event_id": item["command_id"], "command_id": item["event_id"]}


def without_partition(item: Item) -> Item:
    return {name: value for name, value in item.items() if name != "journal_partition"}


def number_as_text(item: Item) -> Item:
    return {**item, "journal_partition": {"S": item["journal_partition"]["N"]}}


@pytest.mark.parametrize(
    "sabotage",
    [
        wrong_occurred_at,
        wrong_event_type,
        wrong_offset,
        swapped_ids,
        without_partition,
        number_as_text,
    ],
)
def test_a_wrong_mapping_in_the_mirror_is_caught(
    monkeypatch: pytest.MonkeyPatch, sabotage: Callable[[Item], Item]
) -> None:
    records = journal_records()[:40]
    faithful = items.to_item
    monkeypatch.setattr(items, "to_item", lambda *args: sabotage(faithful(*args)))
    fake, letters = mirrored(records)
    assert len(fake.items) == len(records)  # the mirror wrote every item, wrongly
    report = verified(records, fake, letters)
    assert {d.kind for d in report.differences} == {DifferenceKind.MISMATCHED}
    assert {d.key for d in report.differences} == set(fake.items)


def test_every_event_type_has_an_event_type_attribute() -> None:
    assert set(EVENT_TYPES) == set(get_args(EventBody))


def test_records_that_cannot_be_items_are_expected_as_dead_letters() -> None:
    huge = Event(
        event_id=ulid(1),
        thread_id=THREAD,
        seq_nr=2,
        occurred_at=T0,
        command_id=ulid(2),
        command_offset=2,
        sender_id=ALICE,
        body=MessagesAdded(
            tuple(AddedMessage(ulid(100 + n), "x" * 4096, None, ()) for n in range(100))
        ),
    )
    keyless = replace(event(THREAD, 1), thread_id="")
    entries = [
        expect(record(None, 0), decode_event),
        expect(record(b"\xc3\x01not an event", 1), decode_event),
        expect(record(keyless, 2), decode_event),
        expect(record(huge, 3), decode_event),
    ]
    assert [(e.position, e.reason) for e in entries if isinstance(e, NotAnItem)] == [
        ((0, 0), DeadLetterReason.UNDECODABLE),
        ((0, 1), DeadLetterReason.UNDECODABLE),
        ((0, 2), DeadLetterReason.INVALID_KEY),
        ((0, 3), DeadLetterReason.ITEM_TOO_LARGE),
    ]


def test_the_size_rule_never_exceeds_the_mirrors() -> None:
    for position, r in enumerate(journal_records()):
        e = decode_event(r.value or b"")
        for partition, offset in ((0, position), (11, 10**9 + position), (3, 10**12)):
            ours = dynamodb_size(expected_item(e, r.value or b"", (partition, offset)))
            assert ours <= item_size(to_item(e, r.value or b"", partition, offset))
