"""Identifiers: ULIDs (26-char Crockford base32) and the ids derived from them.

The domain never generates random ids: clients (or the API) generate command, thread and
message ids, and event ids are derived from the command id so that re-processing a command
re-creates byte-identical events.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import TypeAlias

AccountId: TypeAlias = str
ThreadId: TypeAlias = str
MessageId: TypeAlias = str
CommandId: TypeAlias = str
EventId: TypeAlias = str

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CROCKFORD_SET = frozenset(CROCKFORD)
ULID_LENGTH = 26
_MAX_TIMESTAMP_MS = (1 << 48) - 1


def is_ulid(value: object) -> bool:
    """True for a canonical (upper-case) ULID; the first char bounds the 48-bit timestamp."""
    return (
        isinstance(value, str)
        and len(value) == ULID_LENGTH
        and value[0] in "01234567"
        and all(ch in _CROCKFORD_SET for ch in value)
    )


def _encode(number: int, length: int) -> str:
    chars = []
    for _ in range(length):
        chars.append(CROCKFORD[number & 0x1F])
        number >>= 5
    return "".join(reversed(chars))


def ulid_from_parts(timestamp_ms: int, randomness: int) -> str:
    """Build a ULID from its 48-bit time part and 80-bit randomness part."""
    timestamp_ms = min(max(timestamp_ms, 0), _MAX_TIMESTAMP_MS)
    randomness &= (1 << 80) - 1
    return _encode((timestamp_ms << 80) | randomness, ULID_LENGTH)


def derive_event_id(command_id: CommandId, index: int, occurred_at: datetime) -> EventId:
    """A ULID sortable by the event's time whose random part is a hash of (command, index).

    Deterministic so that a command re-processed after a crash yields the same event id.
    """
    digest = hashlib.blake2b(f"{command_id}/{index}".encode(), digest_size=10).digest()
    timestamp_ms = int(occurred_at.timestamp() * 1000)
    return ulid_from_parts(timestamp_ms, int.from_bytes(digest, "big"))
