"""Thread snapshots <-> Avro frames (schemas/avro/thread_snapshot): the worker's decision
state with the journal position it is folded up to (docs/adr/0015-snapshots.md).

Written by hand rather than by mapping.py's dataclass table: the state's collections are
frozensets and mappings, senders are written once each and referred to by index (the worst
case, 5,000 live messages, stays well inside one Kafka record), and the recent command
outcomes are flat arrays rather than an array of records (reading 512 records was the larger
part of a restore: 2.7 ms of Avro per thread, measured on the bench's synthetic threads).
Since v2 the lists of ULIDs are packed (packed.py): reading them one by one was 3.4 ms of a
4.8 ms decode of a thread with 3,800 live messages.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from pipeline.codec.errors import CodecError
from pipeline.codec.packed import pack, unpack
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
                **_ids_to_record("message_ids", state.messages),
                "message_senders": [
                    senders.setdefault(sender, len(senders)) for sender in state.messages.values()
                ],
                "senders": list(senders),
                **_ids_to_record("removed_message_ids", state.removed_message_ids),
                **_recent_to_record(state),
            },
        )
    return {
        "thread_id": snapshot.thread_id,
        "journal_partition": snapshot.journal_partition,
        "journal_offset": snapshot.journal_offset,
        "payload": payload,
    }


def _ids_to_record(name: str, ids: Collection[str]) -> dict[str, Any]:
    """`name` (one string per id) empty and `name`_packed holding them, or the other way
    round when they do not pack."""
    packed = pack(ids)
    if packed is None:
        return {name: list(ids), f"{name}_packed": b""}
    return {name: [], f"{name}_packed": packed.encode("ascii")}


def _ids_from_record(body: dict[str, Any], name: str) -> list[str]:
    ids: list[str] = body[name]
    packed: bytes = body[f"{name}_packed"]
    if not packed:
        return ids  # written one by one (or by v1, which had no packed fields)
    if ids:
        raise CodecError(f"invalid value: {name}: both packed and one by one")
    try:
        return unpack(packed.decode("ascii"))
    except ValueError as exc:  # UnicodeDecodeError included
        raise CodecError(f"invalid value: {name}_packed: {exc}") from exc


def _recent_to_record(state: Thread) -> dict[str, Any]:
    outcomes = state.recent_commands.values()
    return {
        **_ids_to_record("recent_command_ids", [o.command_id for o in outcomes]),
        "recent_versions": [o.version for o in outcomes],
        "recent_event_counts": [len(o.event_ids) for o in outcomes],
        **_ids_to_record(
            "recent_event_ids", [event_id for o in outcomes for event_id in o.event_ids]
        ),
        "recent_message_counts": [len(o.message_ids) for o in outcomes],
        **_ids_to_record(
            "recent_message_ids", [message_id for o in outcomes for message_id in o.message_ids]
        ),
    }


def _recent_from_record(body: dict[str, Any]) -> dict[str, AcceptedOutcome]:
    command_ids = _ids_from_record(body, "recent_command_ids")
    versions = body["recent_versions"]
    event_counts = body["recent_event_counts"]
    message_counts = body["recent_message_counts"]
    event_ids = _ids_from_record(body, "recent_event_ids")
    message_ids = _ids_from_record(body, "recent_message_ids")
    if not len(command_ids) == len(versions) == len(event_counts) == len(message_counts):
        raise CodecError("invalid value: recent commands: arrays of different lengths")
    if sum(event_counts) != len(event_ids) or sum(message_counts) != len(message_ids):
        raise CodecError("invalid value: recent commands: counts do not add up to the ids")
    recent = {}
    events = messages = 0
    for command_id, version, event_count, message_count in zip(
        command_ids, versions, event_counts, message_counts, strict=True
    ):
        if event_count < 0 or message_count < 0:
            raise CodecError("invalid value: recent commands: a negative count")
        recent[command_id] = AcceptedOutcome(
            command_id,
            version,
            tuple(event_ids[events : events + event_count]),
            tuple(message_ids[messages : messages + message_count]),
        )
        events += event_count
        messages += message_count
    return recent


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
                    _ids_from_record(body, "message_ids"),
                    [senders[i] for i in body["message_senders"]],
                    strict=True,
                )
            ),
            removed_message_ids=frozenset(_ids_from_record(body, "removed_message_ids")),
            recent_commands=_recent_from_record(body),
        )
    return ThreadSnapshot(
        record["thread_id"], record["journal_partition"], record["journal_offset"], state
    )
