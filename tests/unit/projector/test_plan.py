"""The planner: apply in order, skip re-appends, flag conflicts, park on a gap."""

from __future__ import annotations

from dataclasses import replace

import pytest

from pipeline.domain import AddMessages, JoinMemberIds, NewMessage
from pipeline.domain.events import Event
from pipeline.projector.plan import (
    AppliedEvent,
    Outcome,
    ParkReason,
    StoredThread,
    ThreadPlan,
    group_by_thread,
    invalid_envelope,
    lookup_keys,
    only,
    park_failed,
    plan_batch,
    plan_thread,
)
from tests.support.builders import ALICE, BOB, THREAD, Aggregate, command, create, ulid
from tests.support.journal import conflicting, items

pytestmark = pytest.mark.unit

OC = Outcome


def history(n: int = 4) -> list[Event]:
    """ThreadCreated then n - 1 more events of THREAD."""
    agg = Aggregate()
    agg.handle(create(members=(BOB,)))
    while len(agg.events) < n:
        agg.handle(command(JoinMemberIds((ulid(),))))
    return agg.events


def applied_ids(events: list[Event]) -> dict[int, AppliedEvent]:
    return {e.seq_nr: AppliedEvent(e.event_id, e.command_id) for e in events}


def outcomes(plan: ThreadPlan) -> list[Outcome]:
    return [v.outcome for v in plan.verdicts]


def test_a_new_thread_applies_in_order() -> None:
    events = history(4)
    plan = plan_thread(THREAD, items(events), StoredThread(), {})
    assert outcomes(plan) == [OC.APPLIED] * 4
    assert plan.to_apply == tuple(events)
    assert plan.version == 4
    assert plan.park is None


def test_re_appended_events_at_or_below_the_version_are_skipped() -> None:
    events = history(4)
    plan = plan_thread(THREAD, items(events), StoredThread(version=2), applied_ids(events[:2]))
    assert outcomes(plan) == [OC.DUPLICATE, OC.DUPLICATE, OC.APPLIED, OC.APPLIED]
    assert plan.version == 4


def test_a_re_append_within_the_batch_is_skipped() -> None:
    events = history(3)
    batch = [events[0], events[1], events[1], events[0], events[2]]
    plan = plan_thread(THREAD, items(batch), StoredThread(), {})
    assert outcomes(plan) == [OC.APPLIED, OC.APPLIED, OC.DUPLICATE, OC.DUPLICATE, OC.APPLIED]


def test_a_different_event_at_an_applied_seq_nr_is_a_conflict_and_never_applied() -> None:
    events = history(4)
    other = conflicting(events[1])
    plan = plan_thread(
        THREAD, items([other, events[2]]), StoredThread(version=2), applied_ids(events[:2])
    )
    assert outcomes(plan) == [OC.CONFLICT, OC.APPLIED]
    conflict = plan.verdicts[0]
    assert conflict.applied == AppliedEvent(events[1].event_id, events[1].command_id)
    assert events[1].event_id in conflict.detail
    assert other.event_id in conflict.detail
    assert plan.to_apply == (events[2],)


def test_a_conflict_within_the_batch_keeps_the_first() -> None:
    events = history(3)
    other = conflicting(events[1])
    plan = plan_thread(THREAD, items([*events[:2], other, events[2]]), StoredThread(), {})
    assert outcomes(plan) == [OC.APPLIED, OC.APPLIED, OC.CONFLICT, OC.APPLIED]
    assert plan.to_apply == tuple(events)


def test_an_unknown_applied_event_is_a_conflict_not_a_duplicate() -> None:
    events = history(2)
    plan = plan_thread(THREAD, items(events[:1]), StoredThread(version=2), {})
    assert outcomes(plan) == [OC.CONFLICT]
    assert plan.verdicts[0].applied is None


def test_a_version_jump_parks_the_thread() -> None:
    events = history(6)
    plan = plan_thread(THREAD, items(events[3:]), StoredThread(version=2), {})
    assert outcomes(plan) == [OC.GAP, OC.PARKED, OC.PARKED]
    assert plan.to_apply == ()
    assert plan.version == 2
    assert plan.park is not None
    assert plan.park.reason is ParkReason.GAP
    assert plan.park.version == 2
    assert plan.park.item.event == events[3]
    assert "1 missing" in plan.park.detail
    assert len(plan.skipped_by_park) == 3


def test_events_before_the_gap_are_applied_and_a_late_missing_event_does_not_unpark() -> None:
    events = history(5)
    batch = [events[0], events[1], events[3], events[2], events[4]]
    plan = plan_thread(THREAD, items(batch), StoredThread(), {})
    assert outcomes(plan) == [OC.APPLIED, OC.APPLIED, OC.GAP, OC.PARKED, OC.PARKED]
    assert plan.version == 2


def test_a_parked_thread_skips_everything() -> None:
    events = history(3)
    plan = plan_thread(THREAD, items(events), StoredThread(version=0, parked=True), {})
    assert outcomes(plan) == [OC.PARKED] * 3
    assert plan.park is None  # parked before: nothing new to record but the count
    assert len(plan.skipped_by_park) == 3


def test_a_thread_must_start_with_its_creation() -> None:
    events = history(3)
    plan = plan_thread(THREAD, items(events[1:]), StoredThread(), {})
    assert outcomes(plan) == [OC.GAP, OC.PARKED]
    assert plan.park is not None
    assert plan.park.reason is ParkReason.GAP  # seq_nr 2 first: a jump from 0
    only_second = plan_thread(THREAD, items([_renumbered(events[1], 1)]), StoredThread(), {})
    assert only_second.park is not None
    assert only_second.park.reason is ParkReason.NO_THREAD_CREATED


def _renumbered(event: Event, seq_nr: int) -> Event:
    return replace(event, seq_nr=seq_nr)


def test_a_second_thread_created_is_applied_like_evolve_does() -> None:
    events = history(2)
    again = _renumbered(events[0], 3)
    plan = plan_thread(THREAD, items([again]), StoredThread(version=2), {})
    assert outcomes(plan) == [OC.APPLIED]


def test_park_failed_turns_the_rest_of_the_batch_into_a_parked_thread() -> None:
    events = history(4)
    plan = plan_thread(THREAD, items(events), StoredThread(version=1), applied_ids(events[:1]))
    failed = park_failed(plan, "DataError: no")
    assert outcomes(failed) == [OC.DUPLICATE, OC.FAILED, OC.PARKED, OC.PARKED]
    assert failed.to_apply == ()
    assert failed.version == 1
    assert failed.park is not None
    assert failed.park.reason is ParkReason.APPLY_FAILED
    assert failed.park.item.event == events[1]
    assert failed.park.version == 1


def test_park_failed_at_an_event_keeps_the_events_before_it() -> None:
    events = history(4)
    plan = plan_thread(THREAD, items(events), StoredThread(), {})
    failed = park_failed(plan, "DataError: no", at=2)
    assert outcomes(failed) == [OC.APPLIED, OC.APPLIED, OC.FAILED, OC.PARKED]
    assert failed.version == 2
    assert failed.park is not None
    assert failed.park.version == 2
    assert failed.park.item.event == events[2]
    assert only(plan, 2).to_apply == (events[2],)
    assert only(plan, 2).stored_version == 2


def test_lookup_keys_ask_only_for_seq_nrs_at_or_below_the_stored_version() -> None:
    other = ulid(777)
    grouped = {THREAD: items(history(3)), other: items(history(2))}
    keys = lookup_keys(
        grouped, {THREAD: StoredThread(version=2), other: StoredThread(version=5, parked=True)}
    )
    assert keys == [(THREAD, 1), (THREAD, 2)]


def test_plan_batch_plans_each_thread_with_its_own_applied_events() -> None:
    events = history(3)
    plans = plan_batch(
        {THREAD: items(events)},
        {THREAD: StoredThread(version=1)},
        {(THREAD, 1): AppliedEvent(events[0].event_id, events[0].command_id)},
    )
    assert [outcomes(p) for p in plans] == [[OC.DUPLICATE, OC.APPLIED, OC.APPLIED]]


def test_group_by_thread_keeps_journal_order() -> None:
    a = history(3)
    agg = Aggregate()
    agg.handle(command(create().body, thread=ulid(777)))
    mixed = [a[0], agg.events[0], a[1], a[2]]
    grouped = group_by_thread(items(mixed))
    assert [i.event for i in grouped[THREAD]] == a
    assert [i.event for i in grouped[ulid(777)]] == agg.events


def test_invalid_envelopes() -> None:
    event = history(1)[0]
    assert invalid_envelope(event) is None
    assert invalid_envelope(_renumbered(event, 0)) == "seq_nr 0 is below 1"
    assert invalid_envelope(replace(event, thread_id="nope")) == "thread_id is not a ULID"
    assert invalid_envelope(replace(event, sender_id=ALICE.lower())) is not None


def test_messages_are_planned_like_any_event() -> None:
    agg = Aggregate()
    agg.handle(create(members=(BOB,)))
    agg.handle(command(AddMessages((NewMessage(ulid(), "hi"),)), sender=BOB))
    plan = plan_thread(THREAD, items(agg.events), StoredThread(), {})
    assert outcomes(plan) == [OC.APPLIED, OC.APPLIED]
