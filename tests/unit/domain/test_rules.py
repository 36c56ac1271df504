"""One test per rule of the Thread (docs/architecture.md, The domain) and per rejection reason."""

from __future__ import annotations

import pytest

from pipeline import domain
from pipeline.domain import Accepted, NewMessage, Rejected, RejectionReason, limits
from pipeline.domain.state import Thread
from tests.support.builders import ALICE, BOB, CAROL, DAVE, THREAD, Aggregate, command, create, ulid

pytestmark = pytest.mark.unit

R = RejectionReason


def rejected(decision: object, reason: RejectionReason) -> Rejected:
    assert isinstance(decision, Rejected), decision
    assert decision.reason is reason, decision
    assert decision.message
    return decision


def accepted(decision: object, events: int = 1) -> Accepted:
    assert isinstance(decision, Accepted), decision
    assert len(decision.events) == events, decision
    return decision


def created(members: tuple[str, ...] = (BOB,)) -> Aggregate:
    agg = Aggregate()
    accepted(agg.handle(create(members=members)))
    return agg


def state(agg: Aggregate) -> Thread:
    assert agg.state is not None
    return agg.state


def post(agg: Aggregate, sender: str, text: str = "hi", **kwargs: object) -> tuple[object, str]:
    message_id = ulid()
    msg = NewMessage(message_id, text, **kwargs)  # type: ignore[arg-type]
    return agg.handle(command(domain.AddMessages((msg,)), sender=sender)), message_id


# --- CreateThread ---------------------------------------------------------------------------


def test_create_makes_the_creator_an_administrator() -> None:
    agg = Aggregate()
    decision = accepted(agg.handle(create(admins=(CAROL,), members=(BOB,))))
    event = decision.events[0]
    assert isinstance(event.body, domain.ThreadCreated)
    assert event.seq_nr == 1
    assert decision.version == 1
    assert set(event.body.administrator_ids) == {ALICE, CAROL}
    assert state(agg).administrator_ids == {ALICE, CAROL}
    assert state(agg).member_ids == {BOB}
    assert state(agg).creator_id == ALICE


def test_create_keeps_parent_thread_id_and_remarks() -> None:
    parent = ulid()
    agg = Aggregate()
    accepted(agg.handle(create(parent_thread_id=parent, remarks="about lunch")))
    assert state(agg).parent_thread_id == parent
    assert state(agg).remarks == "about lunch"


def test_create_on_existing_thread_is_rejected() -> None:
    agg = created()
    rejected(agg.handle(create()), R.THREAD_ALREADY_EXISTS)


def test_create_on_destroyed_thread_is_rejected() -> None:
    agg = created()
    accepted(agg.handle(command(domain.DestroyThread())))
    rejected(agg.handle(create()), R.THREAD_DESTROYED)


@pytest.mark.parametrize(
    ("title", "ok"),
    [
        ("", False),
        ("x", True),
        ("x" * limits.TITLE_MAX, True),
        ("x" * (limits.TITLE_MAX + 1), False),
    ],
)
def test_title_length_is_1_to_255(title: str, ok: bool) -> None:
    decision = Aggregate().handle(create(title=title))
    if ok:
        accepted(decision)
    else:
        assert "title" in rejected(decision, R.INVALID_COMMAND).message


def test_remarks_at_most_255() -> None:
    accepted(Aggregate().handle(create(remarks="r" * limits.REMARKS_MAX)))
    decision = Aggregate().handle(create(remarks="r" * (limits.REMARKS_MAX + 1)))
    assert "remarks" in rejected(decision, R.INVALID_COMMAND).message


def test_invalid_ids_are_rejected_naming_the_field() -> None:
    decision = Aggregate().handle(create(members=("not-a-ulid",)))
    assert "member_ids[0]" in rejected(decision, R.INVALID_COMMAND).message
    decision = Aggregate().handle(command(domain.JoinMemberIds(()), sender=ALICE))
    assert "account_ids" in rejected(decision, R.INVALID_COMMAND).message


# --- missing and destroyed threads -------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        domain.DestroyThread(),
        domain.JoinAdministratorIds((BOB,)),
        domain.LeaveAdministratorIds((BOB,)),
        domain.JoinMemberIds((BOB,)),
        domain.LeaveMemberIds((BOB,)),
        domain.AddMessages((NewMessage(ulid(1), "hi"),)),
        domain.RemoveMessages((ulid(1),)),
    ],
)
def test_every_command_on_a_missing_or_destroyed_thread_is_rejected(body: object) -> None:
    rejected(Aggregate().handle(command(body)), R.THREAD_NOT_FOUND)  # type: ignore[arg-type]
    agg = created()
    accepted(agg.handle(command(domain.DestroyThread())))
    rejected(agg.handle(command(body)), R.THREAD_DESTROYED)  # type: ignore[arg-type]


# --- DestroyThread ----------------------------------------------------------------------------


def test_destroy_requires_an_administrator() -> None:
    agg = created()
    rejected(agg.handle(command(domain.DestroyThread(), sender=BOB)), R.SENDER_NOT_ADMINISTRATOR)
    decision = accepted(agg.handle(command(domain.DestroyThread())))
    assert isinstance(decision.events[0].body, domain.ThreadDestroyed)
    assert state(agg).destroyed


# --- administrators ---------------------------------------------------------------------------


def test_join_administrators_emits_only_new_ids() -> None:
    agg = created()
    decision = accepted(agg.handle(command(domain.JoinAdministratorIds((ALICE, CAROL, CAROL)))))
    assert decision.events[0].body == domain.AdministratorIdsJoined((CAROL,))
    accepted(agg.handle(command(domain.JoinAdministratorIds((CAROL,)))), events=0)


def test_join_administrators_requires_an_administrator() -> None:
    agg = created()
    decision = agg.handle(command(domain.JoinAdministratorIds((BOB,)), sender=BOB))
    rejected(decision, R.SENDER_NOT_ADMINISTRATOR)


def test_leave_administrators_keeps_at_least_one() -> None:
    agg = created()
    rejected(agg.handle(command(domain.LeaveAdministratorIds((ALICE,)))), R.LAST_ADMINISTRATOR)
    accepted(agg.handle(command(domain.JoinAdministratorIds((CAROL,)))))
    decision = accepted(agg.handle(command(domain.LeaveAdministratorIds((ALICE, DAVE)))))
    assert decision.events[0].body == domain.AdministratorIdsLeft((ALICE,))
    assert state(agg).administrator_ids == {CAROL}


def test_leave_administrators_requires_an_administrator() -> None:
    agg = created()
    decision = agg.handle(command(domain.LeaveAdministratorIds((ALICE,)), sender=BOB))
    rejected(decision, R.SENDER_NOT_ADMINISTRATOR)


# --- members ----------------------------------------------------------------------------------


def test_join_members_emits_only_new_ids_and_requires_an_administrator() -> None:
    agg = created()
    rejected(
        agg.handle(command(domain.JoinMemberIds((CAROL,)), sender=BOB)), R.SENDER_NOT_ADMINISTRATOR
    )
    decision = accepted(agg.handle(command(domain.JoinMemberIds((BOB, CAROL)))))
    assert decision.events[0].body == domain.MemberIdsJoined((CAROL,))
    accepted(agg.handle(command(domain.JoinMemberIds((CAROL,)))), events=0)


def test_leave_members_removes_members_never_adds_them() -> None:
    agg = created(members=(BOB, CAROL))
    decision = accepted(agg.handle(command(domain.LeaveMemberIds((BOB, DAVE)))))
    assert decision.events[0].body == domain.MemberIdsLeft((BOB,))
    assert state(agg).member_ids == {CAROL}  # DAVE was not added (the reference's defect)


def test_a_member_may_remove_only_itself() -> None:
    agg = created(members=(BOB, CAROL))
    rejected(
        agg.handle(command(domain.LeaveMemberIds((CAROL,)), sender=BOB)), R.SENDER_NOT_ADMINISTRATOR
    )
    decision = agg.handle(command(domain.LeaveMemberIds((BOB, CAROL)), sender=BOB))
    rejected(decision, R.SENDER_NOT_ADMINISTRATOR)
    accepted(agg.handle(command(domain.LeaveMemberIds((BOB,)), sender=BOB)))
    assert state(agg).member_ids == {CAROL}


def test_a_stranger_cannot_leave() -> None:
    agg = created()
    rejected(agg.handle(command(domain.LeaveMemberIds((DAVE,)), sender=DAVE)), R.SENDER_NOT_MEMBER)


# --- messages ---------------------------------------------------------------------------------


def test_members_and_administrators_post_strangers_do_not() -> None:
    agg = created()
    accepted(post(agg, BOB)[0])
    accepted(post(agg, ALICE)[0])  # an administrator that is not in member_ids
    rejected(post(agg, DAVE)[0], R.SENDER_NOT_MEMBER)


def test_posted_message_keeps_reply_target_and_recipients() -> None:
    agg = created(members=(BOB, CAROL))
    _, first = post(agg, BOB)
    decision, second = post(agg, CAROL, reply_message_id=first, to_account_ids=(BOB, ALICE, BOB))
    event = accepted(decision).events[0]
    assert isinstance(event.body, domain.MessagesAdded)
    assert accepted(decision).message_ids == (second,)
    # The journal keeps the message (the state keeps only what decide reads: its sender).
    (message,) = event.body.messages
    assert message.message_id == second
    assert message.reply_message_id == first
    assert message.to_account_ids == (BOB, ALICE)
    assert event.sender_id == CAROL
    assert state(agg).messages[second] == CAROL


@pytest.mark.parametrize(
    ("text", "ok"),
    [("", False), ("t" * limits.TEXT_MAX, True), ("t" * (limits.TEXT_MAX + 1), False)],
)
def test_text_length_is_1_to_4096(text: str, ok: bool) -> None:
    decision = post(created(), BOB, text=text)[0]
    if ok:
        accepted(decision)
    else:
        assert "messages[0].text" in rejected(decision, R.INVALID_COMMAND).message


def test_the_texts_of_one_command_are_bounded_in_bytes() -> None:
    # 4-byte characters: 100 messages of 4,096 characters would make a 1.6 MB event.
    heavy = "\U0001f600" * limits.TEXT_MAX
    fits = limits.MESSAGES_TEXT_BYTES_MAX // len(heavy.encode())
    agg = created()
    ok = domain.AddMessages(tuple(NewMessage(ulid(), heavy) for _ in range(fits)))
    accepted(agg.handle(command(ok, sender=BOB)))
    too_much = domain.AddMessages(tuple(NewMessage(ulid(), heavy) for _ in range(fits + 1)))
    decision = agg.handle(command(too_much, sender=BOB))
    assert "messages: texts must total" in rejected(decision, R.INVALID_COMMAND).message


def test_the_recipients_of_one_command_are_bounded_in_total() -> None:
    # 100 messages x 1,000 recipients would make a 2.7 MB event (DynamoDB items stop at 400 KB).
    agg = created()
    members = tuple(ulid() for _ in range(limits.RECIPIENTS_PER_COMMAND_MAX))
    accepted(agg.handle(command(domain.JoinMemberIds(members))))
    half = limits.RECIPIENTS_PER_COMMAND_MAX // 2
    ok = domain.AddMessages(
        (
            NewMessage(ulid(), "a", to_account_ids=members[:half]),
            NewMessage(ulid(), "b", to_account_ids=members[half:]),
        )
    )
    accepted(agg.handle(command(ok, sender=BOB)))
    too_many = domain.AddMessages(
        (
            NewMessage(ulid(), "a", to_account_ids=members[: half + 1]),
            NewMessage(ulid(), "b", to_account_ids=members[half:]),
        )
    )
    decision = agg.handle(command(too_many, sender=BOB))
    assert "to_account_ids must total" in rejected(decision, R.INVALID_COMMAND).message


def test_reply_target_must_exist_in_the_thread() -> None:
    agg = created()
    rejected(post(agg, BOB, reply_message_id=ulid())[0], R.REPLY_TARGET_NOT_FOUND)
    _, first = post(agg, BOB)
    accepted(agg.handle(command(domain.RemoveMessages((first,)), sender=BOB)))
    rejected(post(agg, BOB, reply_message_id=first)[0], R.REPLY_TARGET_NOT_FOUND)


def test_reply_to_a_message_earlier_in_the_same_command() -> None:
    agg = created()
    a, b = ulid(), ulid()
    body = domain.AddMessages((NewMessage(a, "q"), NewMessage(b, "a", reply_message_id=a)))
    accepted(agg.handle(command(body, sender=BOB)))


def test_recipients_must_be_members() -> None:
    agg = created()
    rejected(post(agg, BOB, to_account_ids=(DAVE,))[0], R.RECIPIENT_NOT_MEMBER)


def test_at_most_5000_live_messages() -> None:
    agg = created()
    batch = limits.MESSAGES_PER_COMMAND_MAX
    for _ in range(limits.LIVE_MESSAGES_MAX // batch):
        body = domain.AddMessages(tuple(NewMessage(ulid(), "m") for _ in range(batch)))
        accepted(agg.handle(command(body, sender=BOB)))
    decision, _ = post(agg, BOB)
    rejected(decision, R.MESSAGE_LIMIT)
    # Removed messages do not count: removing one makes room for one.
    victim = next(iter(state(agg).messages))
    accepted(agg.handle(command(domain.RemoveMessages((victim,)), sender=BOB)))
    accepted(post(agg, BOB)[0])


def test_a_message_id_is_never_reused() -> None:
    agg = created()
    _, first = post(agg, BOB)
    again = command(domain.AddMessages((NewMessage(first, "again"),)), sender=BOB)
    rejected(agg.handle(again), R.INVALID_COMMAND)


def test_senders_remove_their_own_messages_only() -> None:
    agg = created(members=(BOB, CAROL))
    _, bobs = post(agg, BOB)
    decision = agg.handle(command(domain.RemoveMessages((bobs,)), sender=CAROL))
    rejected(decision, R.NOT_MESSAGE_SENDER)
    decision = accepted(agg.handle(command(domain.RemoveMessages((bobs, ulid())), sender=BOB)))
    assert decision.events[0].body == domain.MessagesRemoved((bobs,))
    assert decision.message_ids == (bobs,)
    assert bobs not in state(agg).messages


def test_administrators_moderate_any_message() -> None:
    agg = created()
    _, bobs = post(agg, BOB)
    decision = accepted(agg.handle(command(domain.RemoveMessages((bobs,)), sender=ALICE)))
    assert decision.message_ids == (bobs,)


def test_strangers_cannot_remove_messages() -> None:
    agg = created()
    _, bobs = post(agg, BOB)
    rejected(agg.handle(command(domain.RemoveMessages((bobs,)), sender=DAVE)), R.SENDER_NOT_MEMBER)


def test_removing_nothing_is_accepted_without_event() -> None:
    agg = created()
    decision = accepted(agg.handle(command(domain.RemoveMessages((ulid(),)), sender=BOB)), events=0)
    assert decision.message_ids == ()
    assert decision.version == state(agg).version


# --- envelope ---------------------------------------------------------------------------------


def test_events_carry_command_identity_and_position() -> None:
    agg = created()
    cmd = command(domain.JoinMemberIds((CAROL,)))
    event = accepted(agg.handle(cmd)).events[0]
    assert event.command_id == cmd.command_id
    assert event.command_offset == agg.offset
    assert event.thread_id == THREAD
    assert event.sender_id == ALICE
    assert event.seq_nr == 2
    assert state(agg).last_command_offset == agg.offset


def test_a_repeated_command_id_gets_its_original_answer() -> None:
    agg = created()
    cmd = command(domain.AddMessages((NewMessage(ulid(), "once"),)), sender=BOB)
    first = accepted(agg.handle(cmd))
    accepted(agg.handle(command(domain.JoinMemberIds((CAROL,)))))
    again = accepted(agg.handle(cmd), events=0)
    assert again.duplicate
    assert again.version == first.version
    assert again.message_ids == first.message_ids
    assert len(state(agg).messages) == 1
