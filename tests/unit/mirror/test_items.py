"""Journal record <-> DynamoDB item mapping, and the records that can never be items."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import pytest

from pipeline.codec import decode_event, encode_event
from pipeline.domain import AddedMessage, MessagesAdded
from pipeline.mirror.items import (
    ITEM_SIZE_MAX,
    Mirrorable,
    Unmirrorable,
    event_bytes,
    item_digest,
    item_size,
    key_attributes,
    key_of,
    occurred_at_text,
    prepare,
    to_item,
)
from pipeline.mirror.records import DeadLetterReason
from tests.support.builders import THREAD, ulid
from tests.unit.mirror.support import event, record

pytestmark = pytest.mark.unit


def test_an_event_becomes_an_item_with_its_bytes_and_metadata() -> None:
    e = event(THREAD, 2)
    raw = encode_event(e)
    item = to_item(e, raw, partition=3, offset=41)
    assert item == {
        "thread_id": {"S": THREAD},
        "seq_nr": {"N": "2"},
        "event_type": {"S": "MessagesAdded"},
        "event_id": {"S": e.event_id},
        "command_id": {"S": e.command_id},
        "occurred_at": {"S": "2026-11-22T12:00:02.000Z"},
        "event": {"B": raw},
        "journal_partition": {"N": "3"},
        "journal_offset": {"N": "41"},
    }
    assert key_of(item) == (THREAD, 2)
    assert key_of(key_attributes((THREAD, 2))) == (THREAD, 2)
    assert decode_event(event_bytes(item)) == e


def test_occurred_at_is_utc_with_milliseconds() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert occurred_at_text(datetime(2026, 1, 2, 5, 4, 3, 7000, plus_two)) == (
        "2026-01-02T03:04:03.007Z"
    )
    assert occurred_at_text(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05.000Z"
    assert occurred_at_text(datetime(2026, 1, 2, tzinfo=UTC)) == "2026-01-02T00:00:00.000Z"


def test_prepare_maps_a_valid_record() -> None:
    e = event(THREAD, 1)
    prepared = prepare(record(e, 7, partition=2), decode_event)
    assert isinstance(prepared, Mirrorable)
    assert prepared.key == (THREAD, 1)
    assert prepared.event_id == e.event_id
    assert prepared.item == to_item(e, encode_event(e), 2, 7)


@pytest.mark.parametrize(
    "value", [b"", b"not avro", b"\xc3\x01" + b"\x00" * 8 + b"body", None], ids=repr
)
def test_undecodable_records_are_unmirrorable(value: bytes | None) -> None:
    prepared = prepare(record(value, 0), decode_event)
    assert isinstance(prepared, Unmirrorable)
    assert prepared.reason is DeadLetterReason.UNDECODABLE
    assert prepared.error


@pytest.mark.parametrize("thread", ["", "x" * 2049])
def test_a_thread_id_dynamodb_cannot_key_is_unmirrorable(thread: str) -> None:
    prepared = prepare(record(event(thread, 1), 0), decode_event)
    assert isinstance(prepared, Unmirrorable)
    assert prepared.reason is DeadLetterReason.INVALID_KEY


def test_an_event_over_the_item_limit_is_unmirrorable() -> None:
    # The domain allows 100 messages of 4,096 characters in one command: over 400 KB.
    messages = tuple(AddedMessage(ulid(80_000 + i), "é" * 4096, None, ()) for i in range(100))
    big = dataclasses.replace(event(THREAD, 2), body=MessagesAdded(messages))
    prepared = prepare(record(big, 0), decode_event)
    assert isinstance(prepared, Unmirrorable)
    assert prepared.reason is DeadLetterReason.ITEM_TOO_LARGE
    assert str(ITEM_SIZE_MAX) in prepared.error


def test_item_size_follows_dynamodb_rules() -> None:
    # Names count; strings by UTF-8 bytes; binary by length; numbers ~ digits / 2 + 1.
    assert item_size({"a": {"S": "é"}}) == 1 + 2
    assert item_size({"bb": {"B": b"\x00" * 10}}) == 2 + 10
    assert item_size({"n": {"N": "12345"}}) == 1 + 4


def test_item_digest_sees_every_attribute() -> None:
    e = event(THREAD, 2)
    item = to_item(e, encode_event(e), 0, 1)
    assert item_digest(item) == item_digest(dict(reversed(item.items())))
    moved = {**item, "journal_offset": {"N": "2"}}
    assert item_digest(moved) != item_digest(item)
    other_bytes = {**item, "event": {"B": encode_event(event(THREAD, 2, "other"))}}
    assert item_digest(other_bytes) != item_digest(item)
