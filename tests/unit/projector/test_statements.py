"""Event -> statements: every event type, thread-keyed statements, and the batch schedule."""

from __future__ import annotations

import re
import typing
from datetime import timedelta

import pytest

from pipeline.domain import AddedMessage, Event, EventBody, events
from pipeline.projector.plan import StoredThread, plan_thread
from pipeline.projector.statements import (
    BUMP_VERSIONS,
    COUNT_SKIPPED,
    PARK_THREAD,
    RECORD_EVENTS,
    UPSERT_MESSAGE,
    UPSERT_MESSAGES,
    UPSERT_THREAD,
    Statement,
    Step,
    event_statements,
    pg_text,
    schedule,
    write_steps,
)
from tests.support.builders import ALICE, BOB, CAROL, T0, THREAD, ulid
from tests.support.journal import items

pytestmark = pytest.mark.unit

BODIES: dict[type, EventBody] = {
    events.ThreadCreated: events.ThreadCreated(
        ALICE, "t\x00itle", (ALICE,), (BOB,), ulid(1), "remarks"
    ),
    events.ThreadDestroyed: events.ThreadDestroyed(),
    events.AdministratorIdsJoined: events.AdministratorIdsJoined((BOB, CAROL)),
    events.AdministratorIdsLeft: events.AdministratorIdsLeft((BOB,)),
    events.MemberIdsJoined: events.MemberIdsJoined((CAROL,)),
    events.MemberIdsLeft: events.MemberIdsLeft((CAROL,)),
    events.MessagesAdded: events.MessagesAdded(
        (
            AddedMessage(ulid(2), "hello", None, ()),
            AddedMessage(ulid(3), "re\x00", ulid(2), (BOB, CAROL)),
        )
    ),
    events.MessagesRemoved: events.MessagesRemoved((ulid(2), ulid(9))),
}


def event(body: EventBody, seq_nr: int = 1, thread: str = THREAD) -> Event:
    return Event(ulid(), thread, seq_nr, T0 + timedelta(seconds=seq_nr), ulid(), seq_nr, BOB, body)


def placeholders(sql: str) -> int:
    return max((int(n) for n in re.findall(r"\$(\d+)", sql)), default=0)


def test_every_event_type_has_a_sample() -> None:
    assert set(BODIES) == set(typing.get_args(EventBody))


@pytest.mark.parametrize("body", BODIES.values(), ids=lambda b: type(b).__name__)
def test_statements_are_keyed_by_the_thread_and_bind_every_placeholder(body: EventBody) -> None:
    statements = event_statements(event(body))
    assert statements
    for sql, args in statements:
        assert args[0] == THREAD  # what lets schedule() run threads' statements together
        assert placeholders(sql) == len(args), sql
        assert not any(isinstance(a, str) and "\x00" in a for a in args)


def test_thread_created_restarts_the_thread_then_inserts_it_and_its_people() -> None:
    statements = event_statements(event(BODIES[events.ThreadCreated]))
    kinds = [s.sql.split()[0] for s in statements]
    assert kinds == ["DELETE", "DELETE", "DELETE", "INSERT", "INSERT", "INSERT"]
    upsert = statements[3]
    assert upsert.sql == UPSERT_THREAD
    assert upsert.args == (
        THREAD,
        ALICE,
        ulid(1),
        "t\ufffditle",
        "remarks",
        T0 + timedelta(seconds=1),
        1,
    )


def test_messages_added_is_one_upsert_per_message_with_reply_and_recipients() -> None:
    ev = event(BODIES[events.MessagesAdded], seq_nr=4)
    statements = event_statements(ev)
    assert [s.sql for s in statements] == [UPSERT_MESSAGE, UPSERT_MESSAGE]
    assert statements[1].args == (
        THREAD,
        ulid(3),
        BOB,
        "re\ufffd",
        ulid(2),
        [BOB, CAROL],
        ev.occurred_at,
    )


def test_pg_text_replaces_only_nul() -> None:
    assert pg_text("a\x00b\x00") == "a\ufffdb\ufffd"
    text = "plain ünïcode"
    assert pg_text(text) is text


def test_schedule_runs_the_kth_statements_of_all_threads_together_in_thread_order() -> None:
    a1, a2, b1, c1, c2, c3 = (
        Statement(sql, (t,))
        for sql, t in [("A", "t1"), ("B", "t1"), ("A", "t2"), ("B", "t3"), ("A", "t3"), ("C", "t3")]
    )
    steps = schedule([[a1, a2], [b1], [c1, c2, c3]])
    assert steps == [
        Step("A", [("t1",), ("t2",)]),
        Step("B", [("t3",)]),
        Step("B", [("t1",)]),
        Step("A", [("t3",)]),
        Step("C", [("t3",)]),
    ]
    # Each thread's own statements keep their order.
    for thread, expected in {"t1": ["A", "B"], "t2": ["A"], "t3": ["B", "A", "C"]}.items():
        assert [s.sql for s in steps for args in s.args if args == (thread,)] == expected


def test_write_steps_apply_bump_record_and_park() -> None:
    created = event(BODIES[events.ThreadCreated], 1)
    joined = event(BODIES[events.MemberIdsJoined], 2)
    jump = event(BODIES[events.MemberIdsLeft], 5, thread=ulid(50))
    plans = [
        plan_thread(THREAD, items([created, joined]), StoredThread(), {}),
        plan_thread(ulid(50), items([jump], first_offset=9), StoredThread(version=3), {}),
    ]
    steps = write_steps(plans)
    sqls = [s.sql for s in steps]
    assert sqls[-4:] == [BUMP_VERSIONS, RECORD_EVENTS, PARK_THREAD, COUNT_SKIPPED]
    bump, record, park, skipped = steps[-4:]
    assert bump.args == [([THREAD], [2], [joined.occurred_at])]
    assert bump.expect_rows == 1
    assert record.expect_rows == 2
    assert record.args[0][:3] == ([THREAD, THREAD], [1, 2], [created.event_id, joined.event_id])
    assert park.args == [
        (ulid(50), "gap", plans[1].park.detail, 3, 5, jump.event_id, 0, 9)  # type: ignore[union-attr]
    ]
    assert skipped.args == [([ulid(50)], [1], [5])]


def test_write_steps_of_skips_only_write_nothing() -> None:
    created = event(BODIES[events.ThreadCreated], 1)
    plan = plan_thread(THREAD, items([created]), StoredThread(version=1), {})
    assert [v.outcome.value for v in plan.verdicts] == ["conflict"]
    assert write_steps([plan]) == []


def test_messages_of_many_threads_are_upserted_by_one_columnar_statement() -> None:
    added = BODIES[events.MessagesAdded]
    other = ulid(50)
    steps = schedule([event_statements(event(added)), event_statements(event(added, thread=other))])
    # Two messages per thread: two steps, each one statement carrying both threads' rows.
    assert [s.sql for s in steps] == [UPSERT_MESSAGES, UPSERT_MESSAGES]
    assert [len(s.args) for s in steps] == [1, 1]
    assert placeholders(UPSERT_MESSAGES) == len(steps[0].args[0])
    threads, ids, _senders, texts, replies, recipients, _at = steps[1].args[0]
    assert threads == [THREAD, other]
    assert ids == [ulid(3), ulid(3)]
    assert texts == ["re\ufffd", "re\ufffd"]
    assert replies == [ulid(2), ulid(2)]
    assert recipients == [f"{BOB},{CAROL}", f"{BOB},{CAROL}"]
    first = steps[0].args[0]
    assert first[5] == ["", ""]  # no recipients: string_to_array('', ',') is '{}'


def test_recipients_that_cannot_travel_comma_joined_keep_one_row_per_statement() -> None:
    odd = events.MessagesAdded((AddedMessage(ulid(2), "hi", None, ("a,b",)),))
    steps = schedule([event_statements(event(odd)), event_statements(event(odd, thread=ulid(50)))])
    assert [(s.sql, len(s.args)) for s in steps] == [(UPSERT_MESSAGE, 2)]
