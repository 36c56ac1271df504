"""Identifiers: ULIDs (26-char Crockford base32) and the ids derived from them.

The domain never generates random ids: clients (or the API) generate command, thread and
message ids, and event ids are derived from the command id so that re-processing a command
re-creates byte-identical events.
"""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import datetime
from typing import TypeAlias

AccountId: TypeAlias = str
ThreadId: TypeAlias = str
MessageId: TypeAlias = str
CommandId: TypeAlias = str
EventId: TypeAlias = str

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ULID_LENGTH = 26
_MAX_TIMESTAMP_MS = (1 << 48) - 1
# Canonical (upper-case) ULID; the first char bounds the 48-bit timestamp. A compiled pattern:
# ids are checked several times per command, and a per-character loop showed in profiles.
_ULID = re.compile(r"[0-7][0-9A-HJKMNP-TV-Z]{25}")
# base32hex ("0-9A-V") maps position by position onto Crockford's alphabet.
_FROM_BASE32HEX = bytes.maketrans(b"0123456789ABCDEFGHIJKLMNOPQRSTUV", CROCKFORD.encode())


def is_ulid(value: object) -> bool:
    """True for a canonical (upper-case) ULID; the first char bounds the 48-bit timestamp."""
    return isinstance(value, str) and _ULID.fullmatch(value) is not None


def _encode(number: int, length: int) -> str:
    """`number` in `length` Crockford base32 digits (high digits first)."""
    # base32 works on 40-bit groups: widen to whole groups, encode in C, keep the tail.
    groups = -(-length // 8)
    encoded = base64.b32hexencode(number.to_bytes(groups * 5, "big"))
    return encoded[-length:].translate(_FROM_BASE32HEX).decode()


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
