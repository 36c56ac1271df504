"""Pure mapping between journal records and DynamoDB items (low-level AttributeValue maps).

An item holds the event's single-object-encoded bytes exactly as the journal has them (the
truth, and what "identical" is judged by) plus metadata that can be queried without decoding:

    thread_id (S, partition key)  seq_nr (N, sort key)  event_type (S)  event_id (S)
    command_id (S)  occurred_at (S, ISO-8601 UTC, ms)  event (B)
    journal_partition (N)  journal_offset (N)   -- where the stored copy was read
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeAlias

from pipeline.domain import Event
from pipeline.kafka.records import Record
from pipeline.mirror.records import DeadLetterReason

Item: TypeAlias = dict[str, dict[str, Any]]
Key: TypeAlias = tuple[str, int]

THREAD_ID = "thread_id"
SEQ_NR = "seq_nr"
EVENT_TYPE = "event_type"
EVENT_ID = "event_id"
COMMAND_ID = "command_id"
OCCURRED_AT = "occurred_at"
EVENT = "event"
JOURNAL_PARTITION = "journal_partition"
JOURNAL_OFFSET = "journal_offset"

# DynamoDB refuses items over 400 KB (409,600 bytes by its own size rules); moto a little
# earlier. Staying under both means a refusal is never a surprise at write time.
ITEM_SIZE_MAX = 400_000
# DynamoDB's limit on a partition key value.
PARTITION_KEY_MAX_BYTES = 2048


@dataclass(frozen=True, slots=True)
class Mirrorable:
    """A journal record ready to be stored."""

    record: Record
    key: Key
    item: Item
    event_id: str


@dataclass(frozen=True, slots=True)
class Unmirrorable:
    """A journal record that can never become an item: it is dead-lettered at once."""

    record: Record
    reason: DeadLetterReason
    error: str


Prepared: TypeAlias = Mirrorable | Unmirrorable


def occurred_at_text(moment: datetime) -> str:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def to_item(event: Event, raw: bytes, partition: int, offset: int) -> Item:
    return {
        THREAD_ID: {"S": event.thread_id},
        SEQ_NR: {"N": str(event.seq_nr)},
        EVENT_TYPE: {"S": event.name},
        EVENT_ID: {"S": event.event_id},
        COMMAND_ID: {"S": event.command_id},
        OCCURRED_AT: {"S": occurred_at_text(event.occurred_at)},
        EVENT: {"B": raw},
        JOURNAL_PARTITION: {"N": str(partition)},
        JOURNAL_OFFSET: {"N": str(offset)},
    }


def key_of(item: Mapping[str, Mapping[str, Any]]) -> Key:
    return str(item[THREAD_ID]["S"]), int(item[SEQ_NR]["N"])


def key_attributes(key: Key) -> Item:
    thread_id, seq_nr = key
    return {THREAD_ID: {"S": thread_id}, SEQ_NR: {"N": str(seq_nr)}}


def event_bytes(item: Mapping[str, Mapping[str, Any]]) -> bytes:
    return bytes(item[EVENT]["B"])


def number(item: Mapping[str, Mapping[str, Any]], name: str) -> int | None:
    value = item.get(name)
    return None if value is None else int(value["N"])


def text(item: Mapping[str, Mapping[str, Any]], name: str) -> str | None:
    value = item.get(name)
    return None if value is None else str(value["S"])


def _value_size(value: Mapping[str, Any]) -> int:
    ((kind, content),) = value.items()
    match kind:
        case "S":
            return len(str(content).encode())
        case "B":
            return len(content)
        case "N":
            # DynamoDB: about one byte per two significant digits, plus one.
            return len(str(content).lstrip("-")) // 2 + 2
        case _:
            raise ValueError(f"unexpected attribute type {kind}")


def item_size(item: Mapping[str, Mapping[str, Any]]) -> int:
    """The item's size by DynamoDB's rules (attribute names count too)."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def item_digest(item: Mapping[str, Mapping[str, Any]]) -> bytes:
    """A fingerprint of the whole item, so `verify` need not hold every event in memory."""

    def plain(value: Mapping[str, Any]) -> object:
        ((kind, content),) = value.items()
        return [kind, content.hex() if isinstance(content, bytes | bytearray) else str(content)]

    canonical = json.dumps({name: plain(v) for name, v in item.items()}, sort_keys=True)
    return hashlib.blake2b(canonical.encode(), digest_size=16).digest()


def prepare(record: Record, decode: Callable[[bytes], Event]) -> Prepared:
    """Decode a journal record and map it to its item, or say why it can never be one."""
    if not record.value:
        return Unmirrorable(record, DeadLetterReason.UNDECODABLE, "record without a value")
    try:
        event = decode(record.value)
    except Exception as exc:  # the codec raises CodecError; anything else is as unreadable
        return Unmirrorable(record, DeadLetterReason.UNDECODABLE, f"{exc}")
    thread_bytes = len(event.thread_id.encode())
    if not 0 < thread_bytes <= PARTITION_KEY_MAX_BYTES:
        return Unmirrorable(
            record,
            DeadLetterReason.INVALID_KEY,
            f"thread_id of {thread_bytes} bytes (DynamoDB takes 1..{PARTITION_KEY_MAX_BYTES})",
        )
    item = to_item(event, record.value, record.partition, record.offset)
    size = item_size(item)
    if size > ITEM_SIZE_MAX:
        return Unmirrorable(
            record,
            DeadLetterReason.ITEM_TOO_LARGE,
            f"thread {event.thread_id} seq_nr {event.seq_nr}: item of {size} bytes "
            f"exceeds {ITEM_SIZE_MAX}",
        )
    return Mirrorable(record, (event.thread_id, event.seq_nr), item, event.event_id)
