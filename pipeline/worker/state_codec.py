"""The stored form of a Thread: plain tuples pickled, not the dataclasses themselves.

Every batch re-stores the state of each thread it touched, message history included, so this
encoding is on the worker's hot path. Pickling frozen slotted dataclasses goes through
Python-level `__getstate__` for every Message; plain tuples of str/int/datetime are pickled in
C, several times faster (measured in the worker profile, issue 7). The layout is positional:
change it only together with `FORMAT` in store.py, and old entries then read as unreadable
and are rebuilt from the journal.
"""

from __future__ import annotations

import pickle
from typing import Any

from pipeline.domain import Thread
from pipeline.domain.state import AcceptedOutcome, Message

_FIELDS = 15


def dumps(state: Thread) -> bytes:
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
        tuple(
            (m.message_id, m.sender_id, m.text, m.reply_message_id, m.to_account_ids, m.created_at)
            for m in state.messages.values()
        ),
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
        messages,
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
        messages={m[0]: Message(*m) for m in messages},
        removed_message_ids=frozenset(removed_message_ids),
        recent_commands={o[0]: AcceptedOutcome(*o) for o in recent_commands},
    )
