"""The pure batch decision: first event per key is stored, identical ones skipped, different
ones are conflicts, refused and unmirrorable ones dead-lettered."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.codec import decode_event
from pipeline.mirror.items import Mirrorable, Prepared, prepare
from pipeline.mirror.plan import (
    Conflict,
    DeadLetter,
    Skip,
    Write,
    keys_to_look_up,
    plan,
    writes,
)
from pipeline.mirror.records import DeadLetterReason
from tests.support.builders import THREAD, ulid
from tests.unit.mirror.support import event, record

pytestmark = pytest.mark.unit

OTHER = ulid(20_002)


def prepared(*values: object) -> list[Prepared]:
    return [prepare(record(v, i), decode_event) for i, v in enumerate(values)]  # type: ignore[arg-type]


def mirrorable(entry: Prepared) -> Mirrorable:
    assert isinstance(entry, Mirrorable)
    return entry


def test_new_events_are_written_in_order() -> None:
    batch = prepared(event(THREAD, 1), event(THREAD, 2), event(OTHER, 1))
    actions = plan(batch, {})
    assert actions == [Write(mirrorable(e)) for e in batch]
    assert writes(actions) == [mirrorable(e).item for e in batch]


def test_an_identical_stored_event_is_skipped() -> None:
    (entry,) = prepared(event(THREAD, 1))
    stored_copy = {**mirrorable(entry).item, "journal_offset": {"N": "999"}}
    assert plan([entry], {(THREAD, 1): stored_copy}) == [Skip(mirrorable(entry))]


def test_a_different_stored_event_is_a_conflict_naming_the_stored_item() -> None:
    (stored,) = prepared(event(THREAD, 2, "original"))
    (entry,) = prepared(event(THREAD, 2, "rewritten"))
    stored_item = mirrorable(stored).item
    assert plan([entry], {(THREAD, 2): stored_item}) == [Conflict(mirrorable(entry), stored_item)]


def test_within_a_batch_the_first_event_at_a_key_wins() -> None:
    first, again, different = prepared(
        event(THREAD, 2, "first"), event(THREAD, 2, "first"), event(THREAD, 2, "second")
    )
    assert plan([first, again, different], {}) == [
        Write(mirrorable(first)),
        Skip(mirrorable(again)),
        Conflict(mirrorable(different), mirrorable(first).item),
    ]


def test_a_refused_key_is_dead_lettered_and_later_copies_compare_with_it() -> None:
    first, again, different = prepared(
        event(THREAD, 2, "first"), event(THREAD, 2, "first"), event(THREAD, 2, "second")
    )
    actions = plan([first, again, different], {}, {(THREAD, 2): "ValidationException: no"})
    assert actions[0] == DeadLetter(
        first.record, DeadLetterReason.REJECTED, "ValidationException: no"
    )
    assert isinstance(actions[1], Skip)
    assert isinstance(actions[2], Conflict)


def test_unmirrorable_records_are_dead_lettered_where_they_are() -> None:
    batch = prepared(event(THREAD, 1), b"garbage", event(THREAD, 2))
    actions = plan(batch, {})
    assert isinstance(actions[0], Write)
    assert actions[1] == DeadLetter(
        batch[1].record,
        DeadLetterReason.UNDECODABLE,
        actions[1].error,  # type: ignore[union-attr]
    )
    assert isinstance(actions[2], Write)


def test_keys_to_look_up_are_distinct_and_mirrorable_only() -> None:
    batch = prepared(event(THREAD, 1), b"garbage", event(THREAD, 1), event(OTHER, 1))
    assert keys_to_look_up(batch) == [(THREAD, 1), (OTHER, 1)]


# A journal of (thread, seq_nr, variant): the variant picks one of two different events.
journals = st.lists(
    st.tuples(st.sampled_from([THREAD, OTHER]), st.integers(1, 4), st.integers(0, 1)),
    max_size=30,
)


def entries(journal: Sequence[tuple[str, int, int]]) -> list[Prepared]:
    return prepared(*(event(t, s, f"variant {v}") for t, s, v in journal))


@given(journal=journals, split=st.integers(0, 30))
def test_planning_in_batches_equals_planning_at_once(
    journal: list[tuple[str, int, int]], split: int
) -> None:
    """What a restart mid-journal does (earlier batches stored) changes no decision."""
    batch = entries(journal)
    at_once = plan(batch, {})
    stored: dict[tuple[str, int], dict[str, dict[str, object]]] = {}
    for action in plan(batch[:split], {}):
        if isinstance(action, Write):
            stored[action.entry.key] = action.entry.item
    later = plan(batch[split:], stored)
    assert [type(a) for a in at_once[split:]] == [type(a) for a in later]
    written = writes(plan(batch[:split], {})) + writes(later)
    assert written == writes(at_once)


@given(journal=journals)
def test_one_write_per_key_and_it_is_the_first_occurrence(
    journal: list[tuple[str, int, int]],
) -> None:
    batch = entries(journal)
    actions = plan(batch, {})
    written = [a.entry for a in actions if isinstance(a, Write)]
    assert len({e.key for e in written}) == len(written) == len({(t, s) for t, s, _ in journal})
    first_offsets = {}
    for entry in batch:
        first_offsets.setdefault(mirrorable(entry).key, entry.record.offset)
    assert all(first_offsets[e.key] == e.record.offset for e in written)
