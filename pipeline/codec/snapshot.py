"""Thread snapshots <-> Avro frames (schemas/avro/thread_snapshot): the worker's decision
state with the journal position it is folded up to (docs/adr/0015-snapshots.md).

Written by hand rather than by mapping.py's dataclass table: the state's collections are
frozensets and mappings, and senders are written once each and referred to by index, which
keeps the worst case (5,000 live messages) well inside one Kafka record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.codec.errors import CodecError
from pipeline.codec.schemas import NAMESPACE
from pipeline.domain import Thread
from pipeline.domain.state import AcceptedOutcome

_STATE = f"{NAMESPACE}.ThreadState"
_OMITTED = f"{NAMESPACE}.StateOmitted"


@dataclass(frozen=True, slots=True)
class StateOmitted:
    """The state did not fit one record: whoever restores rebuilds the thread from the journal."""

    state_bytes: int
    limit_bytes: int


@dataclass(frozen=True, slots=True)
class ThreadSnapshot:
    thread_id: str
    journal_partition: int
    # Every event of the thread below this journal offset is folded into `state`.
    journal_offset: int
    state: Thread | StateOmitted


def snapshot_to_record(snapshot: ThreadSnapshot) -> dict[str, Any]:
    state = snapshot.state
    payload: tuple[str, dict[str, Any]]
    if isinstance(state, StateOmitted):
        payload = (_OMITTED, {"state_bytes": state.state_bytes, "limit_bytes": state.limit_bytes})
    else:
        senders: dict[str, int] = {}
        payload = (
            _STATE,
            {
                "creator_id": state.creator_id,
                "parent_thread_id": state.parent_thread_id,
                "title": state.title,
                "remarks": state.remarks,
                "administrator_ids": sorted(state.administrator_ids),
                "member_ids": sorted(state.member_ids),
                "created_at": state.created_at,
                "updated_at": state.updated_at,
                "version": state.version,
                "last_command_offset": state.last_command_offset,
                "destroyed": state.destroyed,
                "message_ids": list(state.messages),
                "message_senders": [
                    senders.setdefault(sender, len(senders)) for sender in state.messages.values()
                ],
                "senders": list(senders),
                "removed_message_ids": list(state.removed_message_ids),
                "recent_commands": [
                    {
                        "command_id": o.command_id,
                        "version": o.version,
                        "event_ids": list(o.event_ids),
                        "message_ids": list(o.message_ids),
                    }
                    for o in state.recent_commands.values()
                ],
            },
        )
    return {
        "thread_id": snapshot.thread_id,
        "journal_partition": snapshot.journal_partition,
        "journal_offset": snapshot.journal_offset,
        "payload": payload,
    }


def record_to_snapshot(record: dict[str, Any]) -> ThreadSnapshot:
    name, body = record["payload"]  # (record name, fields): the reader returns record names
    state: Thread | StateOmitted
    if name == _OMITTED:
        state = StateOmitted(body["state_bytes"], body["limit_bytes"])
    elif name != _STATE:
        raise CodecError(f"invalid value: payload: no snapshot type for record {name}")
    else:
        senders = body["senders"]
        state = Thread(
            thread_id=record["thread_id"],
            creator_id=body["creator_id"],
            parent_thread_id=body["parent_thread_id"],
            title=body["title"],
            remarks=body["remarks"],
            administrator_ids=frozenset(body["administrator_ids"]),
            member_ids=frozenset(body["member_ids"]),
            created_at=body["created_at"],
            updated_at=body["updated_at"],
            version=body["version"],
            last_command_offset=body["last_command_offset"],
            destroyed=body["destroyed"],
            messages=dict(
                zip(
                    body["message_ids"],
                    [senders[i] for i in body["message_senders"]],
                    strict=True,
                )
            ),
            removed_message_ids=frozenset(body["removed_message_ids"]),
            recent_commands={
                o["command_id"]: AcceptedOutcome(
                    o["command_id"], o["version"], tuple(o["event_ids"]), tuple(o["message_ids"])
                )
                for o in body["recent_commands"]
            },
        )
    return ThreadSnapshot(
        record["thread_id"], record["journal_partition"], record["journal_offset"], state
    )
