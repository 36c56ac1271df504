"""Lists of ULIDs packed into one string, 26 characters each, one after the other.

A thread's state holds thousands of message ids; read one by one (an Avro array of strings, a
pickled tuple) they were most of what restoring a thread cost. Packed, they are one read and
one slice each (bench/restore_cost.py). Only lists whose every id is a canonical-length ULID
pack; the domain checks ids at its edge, so others never occur in a thread's state, but the
codecs keep a one-by-one form for them rather than assume it.
"""

from __future__ import annotations

from collections.abc import Collection

from pipeline.domain.ids import ULID_LENGTH


def pack(ids: Collection[str]) -> str | None:
    """The ids joined, or None when one of them is not ULID_LENGTH ASCII characters."""
    if not ids:
        return ""
    joined = "".join(ids)
    if len(joined) != ULID_LENGTH * len(ids) or set(map(len, ids)) != {ULID_LENGTH}:
        return None
    return joined if joined.isascii() else None


def unpack(joined: str) -> list[str]:
    """Raises ValueError when `joined` is not a whole number of ids."""
    if len(joined) % ULID_LENGTH:
        raise ValueError(f"packed ids of {len(joined)} characters, not a multiple of {ULID_LENGTH}")
    return [joined[i : i + ULID_LENGTH] for i in range(0, len(joined), ULID_LENGTH)]
