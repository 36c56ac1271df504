"""Commands: what an account asks a Thread to do (docs/architecture.md, The domain).

A command is an envelope (idempotency key, target, sender, client time) around one body.
Bodies hold raw values; the rules about them live in `validation` and `decide`, so a
command built from any input is representable and always gets a decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TypeAlias

from pipeline.domain.ids import AccountId, CommandId, MessageId, ThreadId


@dataclass(frozen=True, slots=True)
class CreateThread:
    title: str
    administrator_ids: tuple[AccountId, ...]
    member_ids: tuple[AccountId, ...]
    parent_thread_id: ThreadId | None = None
    remarks: str | None = None


@dataclass(frozen=True, slots=True)
class DestroyThread:
    pass


@dataclass(frozen=True, slots=True)
class JoinAdministratorIds:
    account_ids: tuple[AccountId, ...]


@dataclass(frozen=True, slots=True)
class LeaveAdministratorIds:
    account_ids: tuple[AccountId, ...]


@dataclass(frozen=True, slots=True)
class JoinMemberIds:
    account_ids: tuple[AccountId, ...]


@dataclass(frozen=True, slots=True)
class LeaveMemberIds:
    account_ids: tuple[AccountId, ...]


@dataclass(frozen=True, slots=True)
class NewMessage:
    message_id: MessageId
    text: str
    reply_message_id: MessageId | None = None
    to_account_ids: tuple[AccountId, ...] = ()


@dataclass(frozen=True, slots=True)
class AddMessages:
    messages: tuple[NewMessage, ...]


@dataclass(frozen=True, slots=True)
class RemoveMessages:
    message_ids: tuple[MessageId, ...]


CommandBody: TypeAlias = (
    CreateThread
    | DestroyThread
    | JoinAdministratorIds
    | LeaveAdministratorIds
    | JoinMemberIds
    | LeaveMemberIds
    | AddMessages
    | RemoveMessages
)


@dataclass(frozen=True, slots=True)
class Command:
    command_id: CommandId
    thread_id: ThreadId
    sender_id: AccountId
    requested_at: datetime
    body: CommandBody

    @property
    def name(self) -> str:
        return type(self.body).__name__
