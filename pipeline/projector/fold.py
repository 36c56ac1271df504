"""The read model a journal should produce, computed in memory: `fold(journal)`. Pure.

A second, independent statement of what the projector's SQL does (statements.py) and of its
skip/park rules (plan.py), written as plain Python over rows: the tests and
`threadweaver projector verify` compare the database with it, thread by thread. Removed
messages keep their row (with removed_at/removed_by), which the domain's Thread state does
not, so this is computed from the events rather than from `replay`.

It shares no code with the projector, only the domain's event types: the rules it needs
(which events can be keyed, what a park is called, how text is stored) are restated here
from docs/adr/0006, so a wrong rule in the projector cannot also be the expected one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import assert_never

from pipeline.domain import Event, events
from pipeline.domain.ids import AccountId, MessageId, ThreadId


class ParkReason(StrEnum):
    """Why the projector must have parked a thread, as it records it (docs/adr/0006)."""

    # A seq_nr beyond the next one: events are missing.
    GAP = "gap"
    # The thread's first event is not its ThreadCreated.
    NO_THREAD_CREATED = "no_thread_created"


# Identifiers are canonical ULIDs: 26 upper-case characters of Crockford's base32, the first
# at most 7 since a ULID has 128 bits (docs/architecture.md, the domain's ids).
_CROCKFORD = frozenset("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
_ULID_LENGTH = 26


def _is_ulid(value: object) -> bool:
    return (
        isinstance(value, str)
        and len(value) == _ULID_LENGTH
        and value[0] in "01234567"
        and _CROCKFORD.issuperset(value)
    )


def keyable(event: Event) -> bool:
    """Whether the read model can hold `event` at all: the projector dead-letters an event
    with a non-ULID thread, event, command or sender id, or a seq_nr below 1, rather than
    park a thread it may not even name correctly (docs/adr/0006, point 2)."""
    ids = (event.thread_id, event.event_id, event.command_id, event.sender_id)
    return all(_is_ulid(i) for i in ids) and event.seq_nr >= 1


def stored_text(value: str) -> str:
    """PostgreSQL text holds no NUL; the projector stores it as U+FFFD (docs/adr/0006,
    point 4)."""
    return value.replace("\0", "\N{REPLACEMENT CHARACTER}")


@dataclass(frozen=True, slots=True)
class ThreadRow:
    id: ThreadId
    creator_id: AccountId
    parent_thread_id: ThreadId | None
    title: str
    remarks: str | None
    created_at: datetime
    updated_at: datetime
    destroyed_at: datetime | None
    version: int


@dataclass(frozen=True, slots=True)
class ParticipantRow:
    account_id: AccountId
    joined_at: datetime


@dataclass(frozen=True, slots=True)
class MessageRow:
    id: MessageId
    sender_id: AccountId
    text: str
    reply_message_id: MessageId | None
    to_account_ids: tuple[AccountId, ...]
    created_at: datetime
    removed_at: datetime | None
    removed_by: AccountId | None


@dataclass(frozen=True, slots=True)
class ThreadView:
    """Every row the read model holds for one thread, in a canonical order (by id)."""

    thread: ThreadRow
    administrators: tuple[ParticipantRow, ...]
    members: tuple[ParticipantRow, ...]
    messages: tuple[MessageRow, ...]

    @staticmethod
    def of(
        thread: ThreadRow,
        administrators: Iterable[ParticipantRow],
        members: Iterable[ParticipantRow],
        messages: Iterable[MessageRow],
    ) -> ThreadView:
        return ThreadView(
            thread,
            tuple(sorted(administrators, key=lambda r: r.account_id)),
            tuple(sorted(members, key=lambda r: r.account_id)),
            tuple(sorted(messages, key=lambda r: r.id)),
        )


@dataclass
class _Thread:
    version: int = 0
    parked: ParkReason | None = None
    row: ThreadRow | None = None
    administrators: dict[AccountId, datetime] = field(default_factory=dict)
    members: dict[AccountId, datetime] = field(default_factory=dict)
    messages: dict[MessageId, MessageRow] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Folded:
    views: dict[ThreadId, ThreadView]
    # Threads the projector must have parked, and why.
    parked: dict[ThreadId, ParkReason]


def _apply(state: _Thread, event: Event) -> None:
    at = event.occurred_at
    body = event.body
    match body:
        case events.ThreadCreated():
            state.row = ThreadRow(
                id=event.thread_id,
                creator_id=body.creator_id,
                parent_thread_id=body.parent_thread_id,
                title=stored_text(body.title),
                remarks=None if body.remarks is None else stored_text(body.remarks),
                created_at=at,
                updated_at=at,
                destroyed_at=None,
                version=event.seq_nr,
            )
            state.administrators = dict.fromkeys(body.administrator_ids, at)
            state.members = dict.fromkeys(body.member_ids, at)
            state.messages = {}
        case events.ThreadDestroyed():
            assert state.row is not None
            if state.row.destroyed_at is None:
                state.row = replace(state.row, destroyed_at=at)
        case events.AdministratorIdsJoined():
            for account in body.account_ids:
                state.administrators.setdefault(account, at)
        case events.AdministratorIdsLeft():
            for account in body.account_ids:
                state.administrators.pop(account, None)
        case events.MemberIdsJoined():
            for account in body.account_ids:
                state.members.setdefault(account, at)
        case events.MemberIdsLeft():
            for account in body.account_ids:
                state.members.pop(account, None)
        case events.MessagesAdded():
            for added in body.messages:
                state.messages[added.message_id] = MessageRow(
                    id=added.message_id,
                    sender_id=event.sender_id,
                    text=stored_text(added.text),
                    reply_message_id=added.reply_message_id,
                    to_account_ids=added.to_account_ids,
                    created_at=at,
                    removed_at=None,
                    removed_by=None,
                )
        case events.MessagesRemoved():
            for message_id in body.message_ids:
                message = state.messages.get(message_id)
                if message is not None and message.removed_at is None:
                    state.messages[message_id] = replace(
                        message, removed_at=at, removed_by=event.sender_id
                    )
        case _:
            assert_never(body)
    assert state.row is not None
    state.row = replace(state.row, version=event.seq_nr, updated_at=at)
    state.version = event.seq_nr


def fold(journal: Iterable[Event]) -> Folded:
    """The expected read model of the `journal`'s events, in its order (re-appends included)."""
    threads: dict[ThreadId, _Thread] = {}
    for event in journal:
        if not keyable(event):
            continue  # dead-lettered, never keyed
        state = threads.setdefault(event.thread_id, _Thread())
        if state.parked is not None or event.seq_nr <= state.version:
            continue  # parked, or a re-append / conflict: the first event at a seq_nr stays
        if event.seq_nr > state.version + 1:
            state.parked = ParkReason.GAP
        elif state.version == 0 and not isinstance(event.body, events.ThreadCreated):
            state.parked = ParkReason.NO_THREAD_CREATED
        else:
            _apply(state, event)
    views = {
        thread_id: ThreadView.of(
            state.row,
            (ParticipantRow(a, at) for a, at in state.administrators.items()),
            (ParticipantRow(m, at) for m, at in state.members.items()),
            state.messages.values(),
        )
        for thread_id, state in threads.items()
        if state.row is not None
    }
    parked = {t: s.parked for t, s in threads.items() if s.parked is not None}
    return Folded(views, parked)
