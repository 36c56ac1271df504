"""Hypothesis strategies and fixed examples of every command, event and reply.

Ids are arbitrary strings, not only ULIDs: the codec carries values, the domain judges them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

from pipeline import domain
from pipeline.domain import AddedMessage, Command, Event, NewMessage
from pipeline.domain.ids import ulid_from_parts
from pipeline.domain.rejections import RejectionReason
from pipeline.kafka.replies import CommandAccepted, CommandRejected

ids = st.one_of(
    st.builds(ulid_from_parts, st.integers(0, (1 << 48) - 1), st.integers(0, (1 << 80) - 1)),
    st.text(max_size=30),
)
texts = st.text(max_size=300)
optional_ids = st.none() | ids
optional_texts = st.none() | texts
id_tuples = st.lists(ids, max_size=5).map(tuple)
longs = st.integers(-(1 << 63), (1 << 63) - 1)
# Millisecond precision, the whole datetime range.
instants = st.datetimes(
    min_value=datetime(1, 1, 1),
    max_value=datetime(9999, 12, 31, 23, 59, 59, 999_000),
    timezones=st.just(UTC),
).map(lambda moment: moment.replace(microsecond=moment.microsecond // 1000 * 1000))

new_messages = st.builds(
    NewMessage, message_id=ids, text=texts, reply_message_id=optional_ids, to_account_ids=id_tuples
)
added_messages = st.builds(
    AddedMessage,
    message_id=ids,
    text=texts,
    reply_message_id=optional_ids,
    to_account_ids=id_tuples,
)

COMMAND_BODIES: dict[type[Any], st.SearchStrategy[Any]] = {
    domain.CreateThread: st.builds(
        domain.CreateThread,
        title=texts,
        administrator_ids=id_tuples,
        member_ids=id_tuples,
        parent_thread_id=optional_ids,
        remarks=optional_texts,
    ),
    domain.DestroyThread: st.just(domain.DestroyThread()),
    domain.JoinAdministratorIds: st.builds(domain.JoinAdministratorIds, id_tuples),
    domain.LeaveAdministratorIds: st.builds(domain.LeaveAdministratorIds, id_tuples),
    domain.JoinMemberIds: st.builds(domain.JoinMemberIds, id_tuples),
    domain.LeaveMemberIds: st.builds(domain.LeaveMemberIds, id_tuples),
    domain.AddMessages: st.builds(
        domain.AddMessages, st.lists(new_messages, max_size=4).map(tuple)
    ),
    domain.RemoveMessages: st.builds(domain.RemoveMessages, id_tuples),
}

EVENT_BODIES: dict[type[Any], st.SearchStrategy[Any]] = {
    domain.ThreadCreated: st.builds(
        domain.ThreadCreated,
        creator_id=ids,
        title=texts,
        administrator_ids=id_tuples,
        member_ids=id_tuples,
        parent_thread_id=optional_ids,
        remarks=optional_texts,
    ),
    domain.ThreadDestroyed: st.just(domain.ThreadDestroyed()),
    domain.AdministratorIdsJoined: st.builds(domain.AdministratorIdsJoined, id_tuples),
    domain.AdministratorIdsLeft: st.builds(domain.AdministratorIdsLeft, id_tuples),
    domain.MemberIdsJoined: st.builds(domain.MemberIdsJoined, id_tuples),
    domain.MemberIdsLeft: st.builds(domain.MemberIdsLeft, id_tuples),
    domain.MessagesAdded: st.builds(
        domain.MessagesAdded, st.lists(added_messages, max_size=4).map(tuple)
    ),
    domain.MessagesRemoved: st.builds(domain.MessagesRemoved, id_tuples),
}

REPLIES: dict[type[Any], st.SearchStrategy[Any]] = {
    CommandAccepted: st.builds(
        CommandAccepted,
        command_id=ids,
        thread_id=ids,
        version=longs,
        event_ids=id_tuples,
        message_ids=id_tuples,
    ),
    CommandRejected: st.builds(
        CommandRejected,
        command_id=ids,
        thread_id=ids,
        reason=st.sampled_from(RejectionReason),
        message=texts,
    ),
}

commands = st.builds(
    Command,
    command_id=ids,
    thread_id=ids,
    sender_id=ids,
    requested_at=instants,
    body=st.one_of(*COMMAND_BODIES.values()),
)
events = st.builds(
    Event,
    event_id=ids,
    thread_id=ids,
    seq_nr=longs,
    occurred_at=instants,
    command_id=ids,
    command_offset=longs,
    sender_id=ids,
    body=st.one_of(*EVENT_BODIES.values()),
)
replies = st.one_of(*REPLIES.values())

# Fixed examples -----------------------------------------------------------------------------

T0 = datetime(2026, 11, 22, 12, 0, 0, 123_000, tzinfo=UTC)
ALICE = ulid_from_parts(1_700_000_000_000, 1)
BOB = ulid_from_parts(1_700_000_000_000, 2)
THREAD = ulid_from_parts(1_700_000_000_000, 3)
PARENT = ulid_from_parts(1_700_000_000_000, 4)
CID = ulid_from_parts(1_700_000_000_000, 5)
EID = ulid_from_parts(1_700_000_000_000, 6)
M1 = ulid_from_parts(1_700_000_000_000, 7)
M2 = ulid_from_parts(1_700_000_000_000, 8)

COMMAND_BODY_EXAMPLES: list[Any] = [
    domain.CreateThread("Lunch", (ALICE,), (BOB,)),
    domain.CreateThread(
        "Ünïcødé 🧵 title", (ALICE, BOB), (), parent_thread_id=PARENT, remarks="日本語"
    ),
    domain.CreateThread("", (), (), remarks=""),  # domain-invalid, still representable
    domain.DestroyThread(),
    domain.JoinAdministratorIds((BOB,)),
    domain.JoinAdministratorIds(()),
    domain.LeaveAdministratorIds((ALICE, BOB)),
    domain.JoinMemberIds((BOB, ALICE)),
    domain.LeaveMemberIds(()),
    domain.AddMessages((NewMessage(M1, "hello"),)),
    domain.AddMessages((NewMessage(M1, "hi 👋"), NewMessage(M2, "re: \x00 nul", M1, (ALICE, BOB)))),
    domain.AddMessages(()),
    domain.RemoveMessages((M1, M2)),
    domain.RemoveMessages(()),
]

EVENT_BODY_EXAMPLES: list[Any] = [
    domain.ThreadCreated(ALICE, "Lunch", (ALICE,), (BOB,)),
    domain.ThreadCreated(ALICE, "Lunch ☕", (ALICE,), (), parent_thread_id=PARENT, remarks="r"),
    domain.ThreadDestroyed(),
    domain.AdministratorIdsJoined((BOB,)),
    domain.AdministratorIdsLeft((BOB,)),
    domain.MemberIdsJoined((ALICE, BOB)),
    domain.MemberIdsLeft(()),
    domain.MessagesAdded((AddedMessage(M1, "hello", None, ()),)),
    domain.MessagesAdded(
        (AddedMessage(M1, "é", None, ()), AddedMessage(M2, "x" * 4096, M1, (BOB,)))
    ),
    domain.MessagesRemoved((M1,)),
]

REPLY_EXAMPLES: list[Any] = [
    CommandAccepted(CID, THREAD, 1, (EID,)),
    CommandAccepted(CID, THREAD, 7, (), ()),
    CommandAccepted(CID, THREAD, (1 << 63) - 1, (EID, EID), (M1, M2)),
    *[CommandRejected(CID, THREAD, reason, f"because {reason}") for reason in RejectionReason],
    CommandRejected(CID, THREAD, RejectionReason.INVALID_COMMAND, ""),
]


def command_with(body: Any, requested_at: datetime = T0) -> Command:
    return Command(CID, THREAD, ALICE, requested_at, body)


def event_with(body: Any, occurred_at: datetime = T0) -> Event:
    return Event(EID, THREAD, 42, occurred_at, CID, 1234, ALICE, body)
