"""Compare the DynamoDB table with the Kafka journal.

The mirror must account for every journal record: by the mirror's own rule (plan.py), the
first mirrorable event at each `(thread_id, seq_nr)` is in the table exactly as `to_item`
maps it, and every other record that is not an identical duplicate (undecodable, too large,
a different event at a taken key, an item DynamoDB refused) is in the conflicts topic. A
difference is a record accounted for neither way, or an item the journal does not explain.
The fold keeps digests only, so a large journal needs no copy of every event in memory.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, assert_never

from pipeline.codec import decode_event
from pipeline.domain import Event
from pipeline.kafka.dead_letters import (
    REASON_HEADER,
    SOURCE_OFFSET_HEADER,
    SOURCE_PARTITION_HEADER,
    SOURCE_TOPIC_HEADER,
)
from pipeline.kafka.records import Record
from pipeline.mirror.items import (
    Key,
    Mirrorable,
    Prepared,
    Unmirrorable,
    item_digest,
    key_of,
    prepare,
)
from pipeline.mirror.plan import Sameness, compare
from pipeline.mirror.reading import read_topic
from pipeline.settings import Settings

Position = tuple[int, int]  # (journal partition, offset)


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

    def add(self, entry: Prepared) -> None:
        self.records += 1
        match entry:
            case Unmirrorable(record=record, reason=reason):
                self.unmirrorable.append(((record.partition, record.offset), reason.value))
            case Mirrorable(record=record, key=key, item=item):
                position = (record.partition, record.offset)
                digest = hashlib.blake2b(record.value or b"", digest_size=16).digest()
                first = self.expected.get(key)
                sameness = compare(None if first is None else first.event_digest, digest)
                match sameness:
                    case Sameness.NEW:
                        self.expected[key] = _First(digest, item_digest(item), position)
                    case Sameness.IDENTICAL:
                        self.duplicates += 1
                    case Sameness.DIFFERENT:
                        self.conflicts.append((key, position))
                    case _:
                        assert_never(sameness)
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
            found.extend((key_of(item), item_digest(item)) for item in response.get("Items", []))
            last = response.get("LastEvaluatedKey")
            if not last:
                return found
            request["ExclusiveStartKey"] = last

    with ThreadPoolExecutor(segments, thread_name_prefix="verify-scan") as pool:
        return [pair for part in pool.map(segment, range(segments)) for pair in part]


def verify(
    client: Any,
    settings: Settings,
    *,
    decode: Callable[[bytes], Event] = decode_event,
    segments: int = 4,
) -> VerifyReport:
    topics = settings.topics
    fold = JournalFold()
    for record in read_topic(settings.kafka, topics.events, settings.partitions):
        fold.add(prepare(record, decode))
    # Read after the journal, so a record the mirror handled before the journal was read
    # has its item or dead letter in place; records in flight show up as differences.
    table_items = scan_digests(client, settings.dynamodb_table, segments)
    dead_lettered: dict[Position, str] = {}
    letters = read_topic(settings.kafka, topics.events_conflicts, settings.partitions)
    for letter in letters:
        position = dead_letter_position(letter, topics.events)
        if position is not None:
            dead_lettered[position] = dict(letter.headers).get(REASON_HEADER, b"").decode()
    return compare_table(fold, table_items, dead_lettered)
