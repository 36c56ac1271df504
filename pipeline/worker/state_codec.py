"""The stored form of a Thread: plain tuples pickled, not the dataclasses themselves.

Every batch re-stores the state of each thread it touched, so this encoding is on the
worker's hot path. Pickling frozen slotted dataclasses goes through Python-level
`__getstate__` for every object; plain tuples of str/int/datetime are pickled in C, several
times faster (measured in the worker profile, issue 7). Live messages are two parallel
tuples, ids and senders, with each sender written once and referred to after (pickle shares
what is one object). The layout is positional: change it only together with `FORMAT` in
store.py, and old entries then read as unreadable and are rebuilt from the journal.
"""

from __future__ import annotations

import pickle
from typing import Any

from pipeline.domain import Thread
from pipeline.domain.state import AcceptedOutcome

_FIELDS = 16


def dumps(state: Thread) -> bytes:
    senders: dict[str, str] = {}
    flat = (
        state.thread_id,
        state.creator_id,
        state.parent_thread_id,
        state.title,
        state.remarks,
        tuple(state.administrator_ids),
        tuple(state.member_ids),
        state.created_at,
        state.updated_at,
        state.version,
        state.last_command_offset,
        state.destroyed,
        tuple(state.messages),
        tuple(senders.setdefault(sender, sender) for sender in state.messages.values()),
        tuple(state.removed_message_ids),
        tuple(
            (o.command_id, o.version, o.event_ids, o.message_ids)
            for o in state.recent_commands.values()
        ),
    )
    return pickle.dumps(flat, protocol=pickle.HIGHEST_PROTOCOL)


def loads(raw: bytes) -> Thread:
    """Raises ValueError (or what pickle raises) on anything that is not a stored Thread."""
    flat: Any = pickle.loads(raw)
    if not isinstance(flat, tuple) or len(flat) != _FIELDS:
        raise ValueError("not a stored thread")
    (
        thread_id,
        creator_id,
        parent_thread_id,
        title,
        remarks,
        administrator_ids,
        member_ids,
        created_at,
        updated_at,
        version,
        last_command_offset,
        destroyed,
        message_ids,
        message_senders,
        removed_message_ids,
        recent_commands,
    ) = flat
    return Thread(
        thread_id=thread_id,
        creator_id=creator_id,
        parent_thread_id=parent_thread_id,
        title=title,
        remarks=remarks,
        administrator_ids=frozenset(administrator_ids),
        member_ids=frozenset(member_ids),
        created_at=created_at,
        updated_at=updated_at,
        version=version,
        last_command_offset=last_command_offset,
        destroyed=destroyed,
        messages=dict(zip(message_ids, message_senders, strict=True)),
        removed_message_ids=frozenset(removed_message_ids),
        recent_commands={o[0]: AcceptedOutcome(*o) for o in recent_commands},
    )
