"""The decider: `decide(state, command, context) -> Accepted | Rejected`.

Every rule of the Thread (docs/architecture.md, The domain; docs/adr/0001) is checked here
and only here. Time and the command's position in its partition come in through
`DecisionContext`; nothing is read from a clock and nothing is random, so the same inputs
always give the same decision, byte for byte.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeAlias, assert_never

from pipeline.domain import limits
from pipeline.domain.commands import (
    AddMessages,
    Command,
    CreateThread,
    DestroyThread,
    JoinAdministratorIds,
    JoinMemberIds,
    LeaveAdministratorIds,
    LeaveMemberIds,
    RemoveMessages,
)
from pipeline.domain.events import (
    AddedMessage,
    AdministratorIdsJoined,
    AdministratorIdsLeft,
    Event,
    EventBody,
    MemberIdsJoined,
    MemberIdsLeft,
    MessagesAdded,
    MessagesRemoved,
    ThreadCreated,
    ThreadDestroyed,
)
from pipeline.domain.ids import EventId, MessageId, derive_event_id
from pipeline.domain.rejections import Rejected, RejectionReason
from pipeline.domain.state import Thread, ThreadState
from pipeline.domain.validation import validate_command


@dataclass(frozen=True, slots=True)
class DecisionContext:
    """What the shell knows about the command record: its time and its position.

    `now` is the command record's broker timestamp (so a re-decision after a crash yields
    the same `occurred_at`); `command_offset` is its offset in the command partition.
    """

    now: datetime
    command_offset: int


@dataclass(frozen=True, slots=True)
class Accepted:
    events: tuple[Event, ...]
    version: int
    # The ids of the events the command produced (for a duplicate: of the original events).
    event_ids: tuple[EventId, ...] = ()
    message_ids: tuple[MessageId, ...] = ()
    # True when the command id was already accepted: this is the original answer, no events.
    duplicate: bool = False


Decision: TypeAlias = Accepted | Rejected


def _reject(reason: RejectionReason, message: str) -> Rejected:
    return Rejected(reason, message)


def _ids(values: Iterable[str]) -> tuple[str, ...]:
    """Ids are sets; sorted tuples keep events deterministic."""
    return tuple(sorted(set(values)))


def _unique_in_order(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


class _Emitter:
    """Builds the events of one accepted command with gapless seq_nrs."""

    def __init__(self, command: Command, context: DecisionContext, version: int) -> None:
        self._command = command
        self._context = context
        self._version = version
        self.events: list[Event] = []

    def emit(self, body: EventBody) -> None:
        index = len(self.events)
        self.events.append(
            Event(
                event_id=derive_event_id(self._command.command_id, index, self._context.now),
                thread_id=self._command.thread_id,
                seq_nr=self._version + index + 1,
                occurred_at=self._context.now,
                command_id=self._command.command_id,
                command_offset=self._context.command_offset,
                sender_id=self._command.sender_id,
                body=body,
            )
        )

    def accepted(self, message_ids: tuple[MessageId, ...] = ()) -> Accepted:
        return Accepted(
            events=tuple(self.events),
            version=self._version + len(self.events),
            event_ids=tuple(event.event_id for event in self.events),
            message_ids=message_ids,
        )


def decide(state: ThreadState, command: Command, context: DecisionContext) -> Decision:
    problems = validate_command(command)
    if problems:
        return _reject(RejectionReason.INVALID_COMMAND, "; ".join(map(str, problems)))

    if state is not None:
        outcome = state.recent_commands.get(command.command_id)
        if outcome is not None:
            return Accepted(
                events=(),
                version=outcome.version,
                event_ids=outcome.event_ids,
                message_ids=outcome.message_ids,
                duplicate=True,
            )

    body = command.body
    if isinstance(body, CreateThread):
        return _create(state, command, body, context)
    if state is None:
        return _reject(RejectionReason.THREAD_NOT_FOUND, f"thread {command.thread_id} not found")
    if state.destroyed:
        return _reject(RejectionReason.THREAD_DESTROYED, f"thread {command.thread_id} is destroyed")

    emitter = _Emitter(command, context, state.version)
    sender = command.sender_id
    match body:
        case DestroyThread():
            if not state.is_administrator(sender):
                return _not_administrator(command)
            emitter.emit(ThreadDestroyed())
            return emitter.accepted()
        case JoinAdministratorIds():
            if not state.is_administrator(sender):
                return _not_administrator(command)
            joined = _ids(set(body.account_ids) - state.administrator_ids)
            if joined:
                emitter.emit(AdministratorIdsJoined(joined))
            return emitter.accepted()
        case LeaveAdministratorIds():
            if not state.is_administrator(sender):
                return _not_administrator(command)
            left = _ids(set(body.account_ids) & state.administrator_ids)
            if left and state.administrator_ids <= set(left):
                return _reject(
                    RejectionReason.LAST_ADMINISTRATOR,
                    "at least one administrator must remain in the thread",
                )
            if left:
                emitter.emit(AdministratorIdsLeft(left))
            return emitter.accepted()
        case JoinMemberIds():
            if not state.is_administrator(sender):
                return _not_administrator(command)
            joined = _ids(set(body.account_ids) - state.member_ids)
            if joined:
                emitter.emit(MemberIdsJoined(joined))
            return emitter.accepted()
        case LeaveMemberIds():
            if not state.is_administrator(sender):
                if set(body.account_ids) != {sender}:
                    return _reject(
                        RejectionReason.SENDER_NOT_ADMINISTRATOR,
                        f"account {sender} may remove only itself from the members",
                    )
                if not state.is_participant(sender):
                    return _not_member(command)
            left = _ids(set(body.account_ids) & state.member_ids)
            if left:
                emitter.emit(MemberIdsLeft(left))
            return emitter.accepted()
        case AddMessages():
            return _add_messages(state, command, body, emitter)
        case RemoveMessages():
            return _remove_messages(state, command, body, emitter)
        case _:
            assert_never(body)


def _not_administrator(command: Command) -> Rejected:
    return _reject(
        RejectionReason.SENDER_NOT_ADMINISTRATOR,
        f"account {command.sender_id} is not an administrator of thread {command.thread_id}",
    )


def _not_member(command: Command) -> Rejected:
    return _reject(
        RejectionReason.SENDER_NOT_MEMBER,
        f"account {command.sender_id} is not a member of thread {command.thread_id}",
    )


def _create(
    state: ThreadState, command: Command, body: CreateThread, context: DecisionContext
) -> Decision:
    if state is not None:
        if state.destroyed:
            return _reject(
                RejectionReason.THREAD_DESTROYED,
                f"thread {command.thread_id} was destroyed; its id cannot be reused",
            )
        return _reject(
            RejectionReason.THREAD_ALREADY_EXISTS, f"thread {command.thread_id} already exists"
        )
    emitter = _Emitter(command, context, 0)
    emitter.emit(
        ThreadCreated(
            creator_id=command.sender_id,
            title=body.title,
            administrator_ids=_ids([*body.administrator_ids, command.sender_id]),
            member_ids=_ids(body.member_ids),
            parent_thread_id=body.parent_thread_id,
            remarks=body.remarks,
        )
    )
    return emitter.accepted()


def _add_messages(
    state: Thread, command: Command, body: AddMessages, emitter: _Emitter
) -> Decision:
    if not state.is_participant(command.sender_id):
        return _not_member(command)
    if len(state.messages) + len(body.messages) > limits.LIVE_MESSAGES_MAX:
        return _reject(
            RejectionReason.MESSAGE_LIMIT,
            f"thread {command.thread_id} would exceed {limits.LIVE_MESSAGES_MAX} live messages",
        )
    added: list[AddedMessage] = []
    earlier: set[MessageId] = set()
    for index, message in enumerate(body.messages):
        field = f"messages[{index}]"
        if message.message_id in state.messages or message.message_id in state.removed_message_ids:
            return _reject(
                RejectionReason.INVALID_COMMAND,
                f"{field}.message_id: {message.message_id} is already used in this thread",
            )
        target = message.reply_message_id
        if target is not None and target not in state.messages and target not in earlier:
            return _reject(
                RejectionReason.REPLY_TARGET_NOT_FOUND,
                f"{field}.reply_message_id: message {target} is not in this thread",
            )
        recipients = _unique_in_order(message.to_account_ids)
        strangers = [acc for acc in recipients if not state.is_participant(acc)]
        if strangers:
            return _reject(
                RejectionReason.RECIPIENT_NOT_MEMBER,
                f"{field}.to_account_ids: {', '.join(strangers)} not members of the thread",
            )
        earlier.add(message.message_id)
        added.append(AddedMessage(message.message_id, message.text, target, recipients))
    emitter.emit(MessagesAdded(tuple(added)))
    return emitter.accepted(tuple(m.message_id for m in added))


def _remove_messages(
    state: Thread, command: Command, body: RemoveMessages, emitter: _Emitter
) -> Decision:
    sender = command.sender_id
    moderator = state.is_administrator(sender)
    if not moderator and not state.is_participant(sender):
        return _not_member(command)
    removed: list[MessageId] = []
    for message_id in _unique_in_order(body.message_ids):
        message_sender = state.messages.get(message_id)
        if message_sender is None:
            continue  # unknown or already removed: removing is idempotent
        if not moderator and message_sender != sender:
            return _reject(
                RejectionReason.NOT_MESSAGE_SENDER,
                f"message {message_id} was not sent by account {sender}",
            )
        removed.append(message_id)
    if removed:
        emitter.emit(MessagesRemoved(tuple(removed)))
    return emitter.accepted(tuple(removed))
