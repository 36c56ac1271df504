"""The reply contract between clients and the worker: exactly one final answer per command,
on `threadweaver.thread-replies`, in the partition the command's header names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from pipeline.domain.ids import CommandId, EventId, MessageId, ThreadId
from pipeline.domain.rejections import RejectionReason

# A client names the replies partition it listens to; without it the thread's partition is used.
REPLY_PARTITION_HEADER = "threadweaver-reply-partition"


def reply_partition(raw: bytes | None, partitions: int) -> int | None:
    """The replies partition a command's header names, or None if absent or not one of ours."""
    if raw is None:
        return None
    try:
        partition = int(raw)
    except ValueError:
        return None
    return partition if 0 <= partition < partitions else None


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
