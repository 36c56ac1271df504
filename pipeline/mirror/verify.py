"""Compare the DynamoDB table with the Kafka journal.

The mirror must account for every journal record: the first mirrorable event at each
`(thread_id, seq_nr)` is in the table as the item layout of `schemas/dynamodb/README.md`
describes it, and every other record that is not an identical duplicate (undecodable, too
large, a different event at a taken key, an item DynamoDB refused) is in the conflicts topic.
A difference is a record accounted for neither way, or an item the journal does not explain.
The fold keeps digests only, so a large journal needs no copy of every event in memory.

This is an oracle: it states the expected item and the mirror's rules (ADR 0005) itself, from
the decoded event, and shares no mapping code with the mirror (`items.py`, `plan.py`). Were it
to map events with the mirror's own `to_item`, a wrong mapping would be written and expected
alike, and verify could never see it.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any, TypeAlias, assert_never

from pipeline.codec import decode_event
from pipeline.domain import Event, events
from pipeline.kafka.dead_letters import (
    REASON_HEADER,
    SOURCE_OFFSET_HEADER,
    SOURCE_PARTITION_HEADER,
    SOURCE_TOPIC_HEADER,
)
from pipeline.kafka.records import Record
from pipeline.kafka.scanner import scan

# Types, and the fingerprint both sides of the comparison go through; the mirror never uses
# the fingerprint (it compares event bytes), so sharing it cannot hide a mapping of its own.
from pipeline.mirror.items import Item, Key, item_digest
from pipeline.mirror.records import DeadLetterReason
from pipeline.settings import Settings

Position = tuple[int, int]  # (journal partition, offset)

# ADR 0005: an item over 400,000 bytes by DynamoDB's size rules is dead-lettered, not written;
# DynamoDB takes partition keys of 1 to 2,048 bytes.
ITEM_BYTES_MAX = 400_000
PARTITION_KEY_BYTES_MAX = 2048

# `event_type` holds the event's name as docs/architecture.md spells it. Listed, not derived
# from the class, so that a renamed class shows up here as a difference rather than silently.
EVENT_TYPES: dict[type, str] = {
    events.ThreadCreated: "ThreadCreated",
    events.ThreadDestroyed: "ThreadDestroyed",
    events.AdministratorIdsJoined: "AdministratorIdsJoined",
    events.AdministratorIdsLeft: "AdministratorIdsLeft",
    events.MemberIdsJoined: "MemberIdsJoined",
    events.MemberIdsLeft: "MemberIdsLeft",
    events.MessagesAdded: "MessagesAdded",
    events.MessagesRemoved: "MessagesRemoved",
}


@dataclass(frozen=True, slots=True)
class ExpectedItem:
    """A journal record that belongs in the table, unless its key holds an earlier event."""

    position: Position
    key: Key
    item: Item


@dataclass(frozen=True, slots=True)
class NotAnItem:
    """A journal record that can never be an item: it belongs in the conflicts topic."""

    position: Position
    reason: DeadLetterReason
    error: str


Expectation: TypeAlias = ExpectedItem | NotAnItem


def utc_millis(moment: datetime) -> str:
    """ISO-8601 in UTC to the millisecond (truncated), `Z` for the zone; naive means UTC."""
    utc = moment.astimezone(UTC) if moment.tzinfo is not None else moment
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T"
        f"{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}.{utc.microsecond // 1000:03d}Z"
    )


def expected_item(event: Event, raw: bytes, position: Position) -> Item:
    """The item schemas/dynamodb/README.md describes for `event`, read at `position`."""
    partition, offset = position
    return {
        "thread_id": {"S": event.thread_id},
        "seq_nr": {"N": str(event.seq_nr)},
        "event_type": {"S": EVENT_TYPES[type(event.body)]},
        "event_id": {"S": event.event_id},
        "command_id": {"S": event.command_id},
        "occurred_at": {"S": utc_millis(event.occurred_at)},
        "event": {"B": raw},
        "journal_partition": {"N": str(partition)},
        "journal_offset": {"N": str(offset)},
    }


def dynamodb_size(item: Mapping[str, Mapping[str, Any]]) -> int:
    """An item's size as DynamoDB documents it: UTF-8 names and strings, binary lengths, and a
    number one byte per two significant digits plus one.

    The mirror's own estimate (items.py) rounds numbers up, never below this one: an item it
    stored is never expected here as too large, and one it refused as too large while this
    rule lets it fit shows up as refused, with its dead letter, not as a difference.
    """
    total = 0
    for name, value in item.items():
        ((kind, content),) = value.items()
        total += len(name.encode())
        if kind == "S":
            total += len(content.encode())
        elif kind == "B":
            total += len(content)
        elif kind == "N":
            significant = content.lstrip("-").replace(".", "").strip("0")
            total += (len(significant) + 1) // 2 + 1
        else:
            raise ValueError(f"no size rule for attribute type {kind}")
    return total


def expect(record: Record, decode: Callable[[bytes], Event]) -> Expectation:
    """What the mirror must have done with `record`, by ADR 0005's rules."""
    position = (record.partition, record.offset)
    raw = record.value
    if not raw:
        return NotAnItem(position, DeadLetterReason.UNDECODABLE, "record without a value")
    try:
        event = decode(raw)
    except Exception as exc:  # whatever the codec raises, the record is unreadable
        return NotAnItem(position, DeadLetterReason.UNDECODABLE, str(exc))
    key_bytes = len(event.thread_id.encode())
    if not 1 <= key_bytes <= PARTITION_KEY_BYTES_MAX:
        return NotAnItem(position, DeadLetterReason.INVALID_KEY, f"{key_bytes}-byte thread id")
    item = expected_item(event, raw, position)
    size = dynamodb_size(item)
    if size > ITEM_BYTES_MAX:
        return NotAnItem(position, DeadLetterReason.ITEM_TOO_LARGE, f"item of {size} bytes")
    return ExpectedItem(position, (event.thread_id, event.seq_nr), item)


def stored_key(item: Mapping[str, Mapping[str, Any]]) -> Key:
    return str(item["thread_id"]["S"]), int(item["seq_nr"]["N"])


class DifferenceKind(Enum):
    MISSING = "missing"  # in the journal, neither in the table nor dead-lettered
    MISMATCHED = "mismatched"  # in both, but the item is not what the journal implies
    EXTRA = "extra"  # in the table, not in the journal
    NOT_DEAD_LETTERED = "not_dead_lettered"  # a record the mirror cannot store, not dead-lettered


@dataclass(frozen=True, slots=True)
class Difference:
    kind: DifferenceKind
    key: Key | None
    journal: Position | None

    def describe(self) -> str:
        what = "" if self.key is None else f" thread {self.key[0]} seq_nr {self.key[1]}"
        where = "" if self.journal is None else f" (journal {self.journal[0]}@{self.journal[1]})"
        return f"{self.kind.value}:{what}{where}"


@dataclass(frozen=True, slots=True)
class _First:
    event_digest: bytes
    item_digest: bytes
    position: Position


@dataclass
class JournalFold:
    """What the table should hold, folded from journal records in journal order."""

    expected: dict[Key, _First] = field(default_factory=dict)
    records: int = 0
    duplicates: int = 0
    # Records that belong in the conflicts topic instead of the table.
    conflicts: list[tuple[Key, Position]] = field(default_factory=list)
    unmirrorable: list[tuple[Position, str]] = field(default_factory=list)

    def add(self, entry: Expectation) -> None:
        self.records += 1
        match entry:
            case NotAnItem(position=position, reason=reason):
                self.unmirrorable.append((position, reason.value))
            case ExpectedItem(position=position, key=key, item=item):
                # "Identical" is byte-identical event bytes (ADR 0005).
                digest = hashlib.blake2b(item["event"]["B"], digest_size=16).digest()
                first = self.expected.get(key)
                if first is None:
                    self.expected[key] = _First(digest, item_digest(item), position)
                elif first.event_digest == digest:
                    self.duplicates += 1
                else:
                    self.conflicts.append((key, position))
            case _:
                assert_never(entry)


@dataclass(frozen=True, slots=True)
class VerifyReport:
    journal_records: int
    table_items: int
    duplicates: int
    conflicts: int
    unmirrorable: int
    # First events at their key that DynamoDB refused and the mirror dead-lettered.
    refused: tuple[tuple[Key, Position], ...]
    differences: tuple[Difference, ...]

    def counts(self) -> dict[str, int]:
        by_kind = {kind.value: 0 for kind in DifferenceKind}
        for difference in self.differences:
            by_kind[difference.kind.value] += 1
        return by_kind

    def as_json(self, limit: int | None = None) -> dict[str, Any]:
        shown = self.differences if limit is None else self.differences[:limit]
        return {
            "differences": len(self.differences),
            **self.counts(),
            "journal_records": self.journal_records,
            "table_items": self.table_items,
            "journal_duplicates": self.duplicates,
            "journal_conflicts": self.conflicts,
            "unmirrorable": self.unmirrorable,
            "refused": len(self.refused),
            "listed": [
                {
                    "kind": d.kind.value,
                    "thread_id": None if d.key is None else d.key[0],
                    "seq_nr": None if d.key is None else d.key[1],
                    "journal": None if d.journal is None else list(d.journal),
                }
                for d in shown
            ],
        }


def compare_table(
    fold: JournalFold,
    table: Iterable[tuple[Key, bytes]],
    dead_lettered: Mapping[Position, str],
) -> VerifyReport:
    """`table`: (key, item digest) of every item; `dead_lettered`: journal positions found in
    the conflicts topic, with their reason."""
    differences: list[Difference] = []
    seen: set[Key] = set()
    items = 0
    for key, digest in table:
        items += 1
        seen.add(key)
        first = fold.expected.get(key)
        if first is None:
            differences.append(Difference(DifferenceKind.EXTRA, key, None))
        elif first.item_digest != digest:
            differences.append(Difference(DifferenceKind.MISMATCHED, key, first.position))
    refused: list[tuple[Key, Position]] = []
    for key, first in fold.expected.items():
        if key in seen:
            continue
        if first.position in dead_lettered:
            refused.append((key, first.position))
        else:
            differences.append(Difference(DifferenceKind.MISSING, key, first.position))
    for conflict_key, position in fold.conflicts:
        if position not in dead_lettered:
            differences.append(Difference(DifferenceKind.NOT_DEAD_LETTERED, conflict_key, position))
    for position, _reason in fold.unmirrorable:
        if position not in dead_lettered:
            differences.append(Difference(DifferenceKind.NOT_DEAD_LETTERED, None, position))
    differences.sort(key=lambda d: (d.key or ("", 0), d.journal or (0, 0), d.kind.value))
    return VerifyReport(
        journal_records=fold.records,
        table_items=items,
        duplicates=fold.duplicates,
        conflicts=len(fold.conflicts),
        unmirrorable=len(fold.unmirrorable),
        refused=tuple(refused),
        differences=tuple(differences),
    )


def dead_letter_position(record: Record, journal_topic: str) -> Position | None:
    """The journal position a dead letter came from; None for another topic's record."""
    headers = dict(record.headers)
    if headers.get(SOURCE_TOPIC_HEADER) != journal_topic.encode():
        return None
    try:
        return int(headers[SOURCE_PARTITION_HEADER]), int(headers[SOURCE_OFFSET_HEADER])
    except (KeyError, ValueError):
        return None


# -- I/O ---------------------------------------------------------------------------------


def scan_digests(client: Any, table: str, segments: int = 4) -> list[tuple[Key, bytes]]:
    """(key, item digest) of every item: a parallel Scan, segments paged independently."""

    def segment(number: int) -> list[tuple[Key, bytes]]:
        found: list[tuple[Key, bytes]] = []
        request: dict[str, Any] = {
            "TableName": table,
            "Segment": number,
            "TotalSegments": segments,
            "ConsistentRead": True,
        }
        while True:
            response = client.scan(**request)
            found.extend(
                (stored_key(item), item_digest(item)) for item in response.get("Items", [])
            )
            last = response.get("LastEvaluatedKey")
            if not last:
                return found
            request["ExclusiveStartKey"] = last

    with ThreadPoolExecutor(segments, thread_name_prefix="verify-scan") as pool:
        return [pair for part in pool.map(segment, range(segments)) for pair in part]


def _read(settings: Settings, topic: str) -> Iterator[Record]:
    """Every record of `topic` up to its end now, with a throw-away group that never commits."""
    return scan(
        settings.kafka,
        topic,
        range(settings.partitions),
        group_id=f"threadweaver-verify-{uuid.uuid4()}",
    )


def verify(
    client: Any,
    settings: Settings,
    *,
    decode: Callable[[bytes], Event] = decode_event,
    segments: int = 4,
) -> VerifyReport:
    topics = settings.topics
    fold = JournalFold()
    for record in _read(settings, topics.events):
        fold.add(expect(record, decode))
    # Read after the journal, so a record the mirror handled before the journal was read
    # has its item or dead letter in place; records in flight show up as differences.
    table_items = scan_digests(client, settings.dynamodb_table, segments)
    dead_lettered: dict[Position, str] = {}
    letters = _read(settings, topics.events_conflicts)
    for letter in letters:
        position = dead_letter_position(letter, topics.events)
        if position is not None:
            dead_lettered[position] = dict(letter.headers).get(REASON_HEADER, b"").decode()
    return compare_table(fold, table_items, dead_lettered)
