"""Opaque page cursors: base64url of `{"s": list, "k": last key}` plus a checksum.

Lists are keyset-paged on ULIDs (a total order), so a cursor is just the last key of a page
and the list it belongs to. It grants nothing: every page is filtered by visibility again,
so a forged cursor can only move within what the caller may read anyway. The checksum is
not a secret (there is no key to share between API instances); it makes an edited or
truncated cursor a clear 422 instead of a silently different page, and the list name makes a
cursor of another list (or another thread) one too.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re

from pipeline.domain.ids import is_ulid

_PERSON = b"tw-cursor-v1"
_DIGEST_SIZE = 8
# The decoder would silently skip characters outside the alphabet: reject them first.
_ALPHABET = re.compile(r"[A-Za-z0-9_-]{1,512}")


class CursorError(ValueError):
    pass


def _digest(payload: bytes) -> bytes:
    return hashlib.blake2b(payload, digest_size=_DIGEST_SIZE, person=_PERSON).digest()


def encode_cursor(list_name: str, key: str) -> str:
    payload = json.dumps({"s": list_name, "k": key}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(payload + _digest(payload)).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str, list_name: str) -> str:
    """The last key of the previous page; CursorError when `cursor` is not one of this list."""
    if not _ALPHABET.fullmatch(cursor):
        raise CursorError("is not a valid cursor")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError) as exc:
        raise CursorError("is not a valid cursor") from exc
    payload, digest = raw[:-_DIGEST_SIZE], raw[-_DIGEST_SIZE:]
    # The last character's unused bits do not change the bytes: only the canonical spelling
    # of a cursor is one.
    canonical = base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
    if len(raw) <= _DIGEST_SIZE or _digest(payload) != digest or canonical != cursor:
        raise CursorError("is not a valid cursor (damaged or edited)")
    try:
        decoded = json.loads(payload)
    except ValueError as exc:
        raise CursorError("is not a valid cursor") from exc
    if not isinstance(decoded, dict) or decoded.get("s") != list_name:
        raise CursorError("belongs to another list")
    key = decoded.get("k")
    if not isinstance(key, str) or not is_ulid(key):
        raise CursorError("is not a valid cursor")
    return key


# The list a cursor belongs to: a cursor of one list (or thread) is refused by another.
def threads_list(account_id: str) -> str:
    return f"threads/{account_id}"


def administrators_list(thread_id: str) -> str:
    return f"administrator-ids/{thread_id}"


def members_list(thread_id: str) -> str:
    return f"member-ids/{thread_id}"


def messages_list(thread_id: str) -> str:
    return f"messages/{thread_id}"
