"""The Thread aggregate's decision state: what `decide` reads, folded from the journal.

It holds the thread's header, its administrators and members, each live message's id and
sender (reply targets, the live limit, removal rights), the ids of removed messages (an id is
never reused) and the outcomes of recent commands (retries). Message texts, reply targets and
recipients are not kept: they live in the journal and the read model (issue 15).

`None` stands for a thread that does not exist. Collections are immutable (frozensets,
tuples) or never mutated after construction (mappings), so states can be shared and compared.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from pipeline.domain.ids import AccountId, CommandId, EventId, MessageId, ThreadId


@dataclass(frozen=True, slots=True)
class AcceptedOutcome:
    """What an accepted command produced; a retry of the command is answered with it."""

    command_id: CommandId
    version: int
    event_ids: tuple[EventId, ...]
    message_ids: tuple[MessageId, ...]


@dataclass(frozen=True, slots=True)
class Thread:
    thread_id: ThreadId
    creator_id: AccountId
    parent_thread_id: ThreadId | None
    title: str
    remarks: str | None
    administrator_ids: frozenset[AccountId]
    member_ids: frozenset[AccountId]
    created_at: datetime
    updated_at: datetime
    version: int
    last_command_offset: int
    destroyed: bool = False
    # Live messages, id -> sender id, in the order they were added (dicts keep insertion order).
    messages: Mapping[MessageId, AccountId] = field(default_factory=dict)
    # Ids of removed messages: an id is never reused within a thread.
    removed_message_ids: frozenset[MessageId] = frozenset()
    # The most recent accepted commands, oldest first, bounded by RECENT_COMMANDS_MAX.
    recent_commands: Mapping[CommandId, AcceptedOutcome] = field(default_factory=dict)

    def is_administrator(self, account_id: AccountId) -> bool:
        return account_id in self.administrator_ids

    def is_participant(self, account_id: AccountId) -> bool:
        """Administrators count as members for reading and posting."""
        return account_id in self.member_ids or account_id in self.administrator_ids


ThreadState = Thread | None
