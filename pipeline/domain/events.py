"""Events: facts appended to a Thread's journal (docs/architecture.md, The domain).

The envelope ties each fact to the thread's version (`seq_nr`, gapless from 1) and to the
command that caused it (`command_id`, and `command_offset`, its position in the command
partition), which is what lets a worker recognise an already-decided command after a crash.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TypeAlias

from pipeline.domain.ids import AccountId, CommandId, EventId, MessageId, ThreadId


@dataclass(frozen=True, slots=True)
class ThreadCreated:
    creator_id: AccountId
    title: str
    administrator_ids: tuple[AccountId, ...]
    member_ids: tuple[AccountId, ...]
    parent_thread_id: ThreadId | None = None
    remarks: str | None = None


@dataclass(frozen=True, slots=True)
class ThreadDestroyed:
    pass


@dataclass(frozen=True, slots=True)
class AdministratorIdsJoined:
    account_ids: tuple[AccountId, ...]


@dataclass(frozen=True, slots=True)
class AdministratorIdsLeft:
    account_ids: tuple[AccountId, ...]


@dataclass(frozen=True, slots=True)
class MemberIdsJoined:
    account_ids: tuple[AccountId, ...]


@dataclass(frozen=True, slots=True)
class MemberIdsLeft:
    account_ids: tuple[AccountId, ...]


@dataclass(frozen=True, slots=True)
class AddedMessage:
    message_id: MessageId
    text: str
    reply_message_id: MessageId | None
    to_account_ids: tuple[AccountId, ...]


@dataclass(frozen=True, slots=True)
class MessagesAdded:
    messages: tuple[AddedMessage, ...]


@dataclass(frozen=True, slots=True)
class MessagesRemoved:
    message_ids: tuple[MessageId, ...]


EventBody: TypeAlias = (
    ThreadCreated
    | ThreadDestroyed
    | AdministratorIdsJoined
    | AdministratorIdsLeft
    | MemberIdsJoined
    | MemberIdsLeft
    | MessagesAdded
    | MessagesRemoved
)


@dataclass(frozen=True, slots=True)
class Event:
    event_id: EventId
    thread_id: ThreadId
    seq_nr: int
    occurred_at: datetime
    command_id: CommandId
    command_offset: int
    sender_id: AccountId
    body: EventBody

    @property
    def name(self) -> str:
        return type(self.body).__name__
