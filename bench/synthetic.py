"""Valid journals written straight with the codec: far faster than deciding each event.

Thread `index` of a `seed` has fixed ids, so another process (the recovery probe) can address
the same threads. Events are gapless per thread (seq_nr 1..n), start with ThreadCreated and
are mostly MessagesAdded, with some removals and member joins/leaves, like the command mix.
`command_offset` is -1: no command record caused them, so any command sent to these threads
later (offset >= 0) is decided rather than taken for one already decided.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pipeline.domain import AddedMessage, Event, EventBody, events
from pipeline.domain.ids import ulid_from_parts

T0 = datetime(2026, 1, 1, tzinfo=UTC)
NO_COMMAND_OFFSET = -1
_TEXT = "see you at noon, bring the slides " * 2


def _ulid(seed: int, *parts: int) -> str:
    digest = hashlib.blake2b(repr((seed, *parts)).encode(), digest_size=10).digest()
    return ulid_from_parts(1_767_225_600_000 + parts[0], int.from_bytes(digest, "big"))


@dataclass
class SyntheticThread:
    seed: int
    index: int
    thread_id: str
    admin: str
    members: tuple[str, ...]
    live: list[str] = field(default_factory=list)
    guest: str | None = None


def thread(seed: int, index: int) -> SyntheticThread:
    return SyntheticThread(
        seed,
        index,
        thread_id=_ulid(seed, index, 0),
        admin=_ulid(seed, index, 1),
        members=tuple(sorted(_ulid(seed, index, 2 + k) for k in range(3))),
    )


def _body(t: SyntheticThread, seq: int) -> tuple[EventBody, str]:
    """The event body at `seq` (> 1) and its sender."""
    if seq % 50 == 10 and t.guest is None:
        t.guest = _ulid(t.seed, t.index, 100 + seq)
        return events.MemberIdsJoined((t.guest,)), t.admin
    if seq % 50 == 30 and t.guest is not None:
        guest, t.guest = t.guest, None
        return events.MemberIdsLeft((guest,)), guest
    sender = t.members[seq % len(t.members)]
    if seq % 10 == 5 and t.live:
        return events.MessagesRemoved((t.live.pop(0),)), t.admin
    message_id = _ulid(t.seed, t.index, 1_000_000 + seq)
    reply_to = t.live[-1] if t.live and seq % 5 == 0 else None
    t.live.append(message_id)
    to = (t.members[(seq + 1) % len(t.members)],) if seq % 4 == 0 else ()
    return events.MessagesAdded((AddedMessage(message_id, _TEXT, reply_to, to),)), sender


def event(t: SyntheticThread, seq: int) -> Event:
    """The thread's event `seq`; call with seq = 1, 2, 3... in order (the thread keeps state)."""
    if seq == 1:
        body: EventBody = events.ThreadCreated(
            creator_id=t.admin,
            title=f"synthetic thread {t.index}",
            administrator_ids=(t.admin,),
            member_ids=t.members,
        )
        sender = t.admin
    else:
        body, sender = _body(t, seq)
    return Event(
        event_id=_ulid(t.seed, t.index, 2_000_000 + seq),
        thread_id=t.thread_id,
        seq_nr=seq,
        occurred_at=T0 + timedelta(milliseconds=t.index * 10_000 + seq),
        command_id=_ulid(t.seed, t.index, 3_000_000 + seq),
        command_offset=NO_COMMAND_OFFSET,
        sender_id=sender,
        body=body,
    )


def interleaved(seed: int, first: int, count: int, events_per_thread: int) -> Iterator[Event]:
    """Threads first..first+count-1, round-robin one event each, so every partition holds
    many threads side by side as a real journal does."""
    threads = [thread(seed, i) for i in range(first, first + count)]
    for seq in range(1, events_per_thread + 1):
        for t in threads:
            yield event(t, seq)
