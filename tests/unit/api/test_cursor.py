"""Opaque cursors: a round trip gives the key back; anything edited is refused."""

from __future__ import annotations

import pytest

from api.cursor import CursorError, decode_cursor, encode_cursor
from tests.support.builders import ulid

pytestmark = pytest.mark.unit

KEY = ulid(1)


def test_round_trip() -> None:
    cursor = encode_cursor("messages/T", KEY)
    assert decode_cursor(cursor, "messages/T") == KEY
    # URL-safe without escaping: it travels in a query string.
    assert all(ch.isalnum() or ch in "-_" for ch in cursor)


def test_every_single_character_edit_is_refused() -> None:
    cursor = encode_cursor("messages/T", KEY)
    for index, char in enumerate(cursor):
        replacement = "A" if char != "A" else "B"
        edited = cursor[:index] + replacement + cursor[index + 1 :]
        with pytest.raises(CursorError):
            decode_cursor(edited, "messages/T")


@pytest.mark.parametrize(
    "cursor",
    ["", "not a cursor", "abc!", "====", "A" * 600, "eyJzIjoibWVzc2FnZXMvVCJ9"],
)
def test_garbage_is_refused(cursor: str) -> None:
    with pytest.raises(CursorError):
        decode_cursor(cursor, "messages/T")


def test_a_cursor_of_another_list_is_refused() -> None:
    cursor = encode_cursor("messages/T1", KEY)
    with pytest.raises(CursorError, match="another list"):
        decode_cursor(cursor, "messages/T2")
    with pytest.raises(CursorError, match="another list"):
        decode_cursor(cursor, "member-ids/T1")


def test_truncation_and_extension_are_refused() -> None:
    cursor = encode_cursor("threads/A", KEY)
    for edited in (cursor[:-1], cursor[1:], cursor + "A", cursor + "AAAA"):
        with pytest.raises(CursorError):
            decode_cursor(edited, "threads/A")
