"""What to do with one command record, as a pure function of the thread's caught-up state.

Redelivery after a crash is the subtle part. Events record the offset of the command that
caused them, and each thread's state remembers the last such offset and its recent accepted
command ids (both folded from the journal), so for a command at offset `o`:

1. its id is among the thread's recent accepted commands: answer with the original outcome
   (a client retry, or a redelivered command whose events are already in the journal);
2. else if `o` <= the thread's last command offset: it was decided before a later command of
   the same thread was appended; it produced no event (a rejection or a no-op), and its reply
   was acknowledged before that later append (the batch executor flushes such replies first),
   so it is skipped: re-deciding it against the newer state could give a different answer;
3. else nothing of the thread changed since `o` was (maybe) decided, so deciding again gives
   the same decision, byte for byte (time and offset come from the record).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeAlias

from pipeline.domain import (
    Accepted,
    Command,
    Decision,
    DecisionContext,
    Rejected,
    RejectionReason,
    ThreadState,
    decide,
)
from pipeline.kafka.replies import CommandAccepted, CommandRejected, Reply


@dataclass(frozen=True, slots=True)
class Decided:
    decision: Decision


@dataclass(frozen=True, slots=True)
class AlreadyDecided:
    last_command_offset: int


Outcome: TypeAlias = Decided | AlreadyDecided

# A reply must fit a Kafka record whatever the command held, or producing it fails and the
# worker stops on the same record after every restart. Ids longer than a ULID only come with
# invalid commands (the whole command stays in the DLQ), and a rejection lists one problem
# per bad item: both are cut in replies. A ULID has 26 characters.
REPLY_ID_MAX_CHARS = 256
REPLY_MESSAGE_MAX_CHARS = 4096


def shown(text: str, limit: int = REPLY_ID_MAX_CHARS) -> str:
    """`text`, cut to `limit` characters (the cut marked with an ellipsis)."""
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def context_for(timestamp_ms: int, offset: int) -> DecisionContext:
    return DecisionContext(
        now=datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC), command_offset=offset
    )


def handle(state: ThreadState, command: Command, context: DecisionContext) -> Outcome:
    if (
        state is not None
        and command.command_id not in state.recent_commands
        and context.command_offset <= state.last_command_offset
    ):
        return AlreadyDecided(state.last_command_offset)
    return Decided(decide(state, command, context))


def reply_for(command: Command, decision: Decision) -> Reply:
    match decision:
        case Accepted():
            return CommandAccepted(
                command_id=shown(command.command_id),
                thread_id=shown(command.thread_id),
                version=decision.version,
                event_ids=decision.event_ids,
                message_ids=decision.message_ids,
            )
        case Rejected():
            return CommandRejected(
                command_id=shown(command.command_id),
                thread_id=shown(command.thread_id),
                reason=decision.reason,
                message=shown(decision.message, REPLY_MESSAGE_MAX_CHARS),
            )


def misrouted(command: Command, partition: int, expected: int) -> Rejected:
    return Rejected(
        RejectionReason.INVALID_COMMAND,
        f"thread_id: thread {shown(command.thread_id)} belongs to partition {expected}, "
        f"the command was produced to partition {partition} (use the murmur2 partitioner)",
    )
