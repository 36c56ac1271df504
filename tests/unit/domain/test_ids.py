from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipeline.domain.ids import derive_event_id, is_ulid, ulid_from_parts

pytestmark = pytest.mark.unit

WHEN = datetime(2026, 11, 22, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("01ARZ3NDEKTSV4RRFFQ69G5FAV", True),
        ("01arz3ndektsv4rrffq69g5fav", False),  # canonical form is upper case
        ("81ARZ3NDEKTSV4RRFFQ69G5FAV", False),  # timestamp overflow
        ("01ARZ3NDEKTSV4RRFFQ69G5FA", False),
        ("01ARZ3NDEKTSV4RRFFQ69G5FAU", False),  # U is not Crockford
        (None, False),
    ],
)
def test_is_ulid(value: object, ok: bool) -> None:
    assert is_ulid(value) is ok


def test_ulid_from_parts_round_trips_the_timestamp() -> None:
    value = ulid_from_parts(1_469_918_176_385, 0)
    assert value.startswith("01ARYZ6S41")
    assert is_ulid(value)


def test_event_ids_are_deterministic_distinct_and_time_ordered() -> None:
    command = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
    first = derive_event_id(command, 0, WHEN)
    assert first == derive_event_id(command, 0, WHEN)
    assert first != derive_event_id(command, 1, WHEN)
    assert first != derive_event_id("01ARZ3NDEKTSV4RRFFQ69G5FAW", 0, WHEN)
    later = derive_event_id(command, 0, WHEN.replace(year=2027))
    assert is_ulid(first)
    assert is_ulid(later)
    assert later[:10] > first[:10]
