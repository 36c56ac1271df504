"""Replies on `threadweaver.thread-replies`: exactly one final answer per command."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from pipeline.domain.ids import CommandId, EventId, MessageId, ThreadId
from pipeline.domain.rejections import RejectionReason


@dataclass(frozen=True, slots=True)
class CommandAccepted:
    command_id: CommandId
    thread_id: ThreadId
    version: int
    event_ids: tuple[EventId, ...] = ()
    # Added messages for AddMessages, removed ones for RemoveMessages, else empty.
    message_ids: tuple[MessageId, ...] = ()


@dataclass(frozen=True, slots=True)
class CommandRejected:
    command_id: CommandId
    thread_id: ThreadId
    reason: RejectionReason
    message: str


Reply: TypeAlias = CommandAccepted | CommandRejected
