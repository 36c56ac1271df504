"""`threadweaver projector verify`: the read model against fold(journal), thread by thread.

Meaningful once the projector has caught up (lag 0); a thread the read model has at a lower
version than the journal is reported as behind rather than different.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field

from pipeline.codec import CodecError, decode_event
from pipeline.domain.events import Event
from pipeline.domain.ids import ThreadId
from pipeline.kafka.offsets import end_offsets
from pipeline.kafka.scanner import PartitionScanner
from pipeline.projector.database import connect
from pipeline.projector.fold import Folded, ThreadView, fold, keyable
from pipeline.projector.readback import load_parked, load_thread_ids, load_views
from pipeline.settings import Settings

# Throw-away groups (assign() only, never committed), under the projector's group prefix so
# that the projector's KafkaUser covers them.
VERIFY_GROUP_PREFIX = "threadweaver-projector-verify-"


@dataclass
class VerifyReport:
    threads: int = 0
    equal: int = 0
    behind: list[ThreadId] = field(default_factory=list)
    different: dict[ThreadId, str] = field(default_factory=dict)
    missing: list[ThreadId] = field(default_factory=list)
    unexpected: list[ThreadId] = field(default_factory=list)
    parked_mismatch: dict[ThreadId, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.equal == self.threads and not self.parked_mismatch

    def as_dict(self, limit: int = 20) -> dict[str, object]:
        return {
            "ok": self.ok,
            "threads": self.threads,
            "equal": self.equal,
            "behind": self.behind[:limit],
            "different": dict(list(self.different.items())[:limit]),
            "missing": self.missing[:limit],
            "unexpected": self.unexpected[:limit],
            "parked_mismatch": dict(list(self.parked_mismatch.items())[:limit]),
        }


def describe_difference(expected: ThreadView, actual: ThreadView) -> str:
    parts = []
    for name in ("thread", "administrators", "members", "messages"):
        want, got = getattr(expected, name), getattr(actual, name)
        if want != got:
            parts.append(f"{name}: expected {want!r}, read model has {got!r}")
    return "; ".join(parts)[:2000]


def compare(
    folded: Folded,
    views: Mapping[ThreadId, ThreadView],
    parked: Mapping[ThreadId, str],
    thread_ids: Collection[ThreadId],
) -> VerifyReport:
    """Pure: the read model's `views` and `parked` of `thread_ids` against `folded`."""
    report = VerifyReport()
    for thread_id in sorted(thread_ids):
        expected, actual = folded.views.get(thread_id), views.get(thread_id)
        want_parked = folded.parked.get(thread_id)
        got_parked = parked.get(thread_id)
        # A thread parked for a database refusal (apply_failed) is not in the fold's parked.
        if (want_parked.value if want_parked else None) != got_parked:
            report.parked_mismatch[thread_id] = f"expected {want_parked}, got {got_parked}"
        if expected is None and actual is None:
            continue
        report.threads += 1
        if expected is None:
            report.unexpected.append(thread_id)
        elif actual is None:
            report.missing.append(thread_id)
        elif expected == actual:
            report.equal += 1
        elif actual.thread.version < expected.thread.version:
            report.behind.append(thread_id)
        else:
            report.different[thread_id] = describe_difference(expected, actual)
    return report


def read_events(
    base: Settings,
    thread_ids: Collection[ThreadId] | None,
    on_total: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> list[Event]:
    """Every decodable journal event (of `thread_ids`, if given), in journal order."""
    ends = end_offsets(base.kafka, base.topics.events, range(base.partitions))
    if on_total is not None:
        on_total(sum(ends.values()))
    scanner = PartitionScanner(
        base.kafka,
        base.topics.events,
        group_id=f"{VERIFY_GROUP_PREFIX}{uuid.uuid4()}",
        starts=dict.fromkeys(ends, 0),
        ends=ends,
        batch_max=base.projector.batch_max,
    )
    wanted = set(thread_ids) if thread_ids is not None else None
    events: list[Event] = []
    try:
        while not scanner.done:
            batch = scanner.next_batch()
            for record in batch:
                try:
                    event = decode_event(record.value)
                except CodecError:
                    continue
                if wanted is None or event.thread_id in wanted:
                    events.append(event)
            if on_progress is not None:
                on_progress(len(batch))
    finally:
        scanner.close()
    return events


async def verify(
    settings: Settings,
    thread_ids: Collection[ThreadId] | None = None,
    on_total: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> VerifyReport:
    events = await asyncio.to_thread(read_events, settings, thread_ids, on_total, on_progress)
    folded = fold(events)
    conn = await connect(settings, "projector-verify")
    try:
        if thread_ids is not None:
            wanted = set(thread_ids)
        else:
            # Both sides: a thread only the read model has is reported as unexpected.
            wanted = {e.thread_id for e in events if keyable(e)}
            wanted |= await load_thread_ids(conn)
        views = await load_views(conn, wanted)
        parked = await load_parked(conn, wanted)
    finally:
        await conn.close()
    return compare(folded, views, parked, wanted)
