"""Pure decisions: what to do with a batch of journal records given what DynamoDB holds.

The rule (docs/architecture.md, Idempotent consumers; docs/adr/0005): the first event the
journal holds at a `(thread_id, seq_nr)` is the one stored. A later identical event (same
bytes) is skipped; a later different one is a conflict: never written, dead-lettered with
the stored event named.

A batch is planned twice: once to choose what to write (with what a read found stored, or
nothing for conditional writes), then again with what the writes found already stored and
what DynamoDB refused, which gives every record its final outcome.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import TypeAlias, assert_never

from pipeline.kafka.records import Record
from pipeline.mirror.items import Item, Key, Mirrorable, Prepared, Unmirrorable, event_bytes
from pipeline.mirror.records import DeadLetterReason


class Sameness(Enum):
    NEW = "new"
    IDENTICAL = "identical"
    DIFFERENT = "different"


def compare(known: bytes | None, candidate: bytes) -> Sameness:
    if known is None:
        return Sameness.NEW
    return Sameness.IDENTICAL if known == candidate else Sameness.DIFFERENT


@dataclass(frozen=True, slots=True)
class Write:
    entry: Mirrorable


@dataclass(frozen=True, slots=True)
class Skip:
    """An identical event is stored (or is written by this batch) already."""

    entry: Mirrorable


@dataclass(frozen=True, slots=True)
class Conflict:
    entry: Mirrorable
    stored: Item


@dataclass(frozen=True, slots=True)
class DeadLetter:
    record: Record
    reason: DeadLetterReason
    error: str


Action: TypeAlias = Write | Skip | Conflict | DeadLetter


def plan(
    prepared: Iterable[Prepared],
    stored: Mapping[Key, Item],
    refused: Mapping[Key, str] | None = None,
) -> list[Action]:
    """One action per record, in order. `refused`: keys DynamoDB would not take, and why."""
    refused = refused or {}
    known: dict[Key, Item] = dict(stored)
    actions: list[Action] = []
    for entry in prepared:
        match entry:
            case Unmirrorable(record=record, reason=reason, error=error):
                actions.append(DeadLetter(record, reason, error))
            case Mirrorable():
                actions.append(_decide(entry, known, refused))
            case _:
                assert_never(entry)
    return actions


def _decide(entry: Mirrorable, known: dict[Key, Item], refused: Mapping[Key, str]) -> Action:
    existing = known.get(entry.key)
    sameness = compare(None if existing is None else event_bytes(existing), event_bytes(entry.item))
    match sameness:
        case Sameness.NEW:
            # Later records of the batch compare with this one, written or not.
            known[entry.key] = entry.item
            if entry.key in refused:
                return DeadLetter(entry.record, DeadLetterReason.REJECTED, refused[entry.key])
            return Write(entry)
        case Sameness.IDENTICAL:
            return Skip(entry)
        case Sameness.DIFFERENT:
            assert existing is not None
            return Conflict(entry, existing)
        case _:
            assert_never(sameness)


def writes(actions: Iterable[Action]) -> list[Item]:
    return [action.entry.item for action in actions if isinstance(action, Write)]


def keys_to_look_up(prepared: Iterable[Prepared]) -> list[Key]:
    """Each mirrorable key once, in first-seen order."""
    return list(dict.fromkeys(e.key for e in prepared if isinstance(e, Mirrorable)))
