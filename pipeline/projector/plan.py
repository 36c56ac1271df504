"""What to do with each event of a batch, given what the read model already holds. Pure.

Per thread, in journal order, against the stored version `v` (0: not in the read model):

- `seq_nr == v + 1`: apply (the first event of a thread must be its `ThreadCreated`);
- `seq_nr <= v` with the event id applied at that `seq_nr`: a re-append, skipped;
- `seq_nr <= v` with another event: a conflict, an alarm and a dead letter, never applied;
- `seq_nr > v + 1`: a gap, events are missing: the thread is parked (docs/adr/0006);
- a parked thread: skipped and counted until `threadweaver projector rebuild`.

A thread's events all live in one journal partition, so journal order is the order the
worker appended them in.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from pipeline.domain.events import Event, ThreadCreated
from pipeline.domain.ids import ThreadId, is_ulid
from pipeline.projector.records import JournalEvent


class Outcome(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"
    # The event that parked its thread: a version jump, or a thread not starting with its
    # ThreadCreated.
    GAP = "gap"
    # The event the database refused (only found by the executor): it parked its thread.
    FAILED = "failed"
    # Skipped because the thread is parked.
    PARKED = "parked"


class ParkReason(StrEnum):
    GAP = "gap"
    NO_THREAD_CREATED = "no_thread_created"
    APPLY_FAILED = "apply_failed"


@dataclass(frozen=True, slots=True)
class AppliedEvent:
    """The identity of the event applied at a (thread_id, seq_nr)."""

    event_id: str
    command_id: str


@dataclass(frozen=True, slots=True)
class StoredThread:
    version: int = 0
    parked: bool = False


@dataclass(frozen=True, slots=True)
class Verdict:
    item: JournalEvent
    outcome: Outcome
    detail: str = ""
    # For a conflict: what the read model applied at this seq_nr (None: it has no record).
    applied: AppliedEvent | None = None

    @property
    def event(self) -> Event:
        return self.item.event


@dataclass(frozen=True, slots=True)
class Park:
    thread_id: ThreadId
    reason: ParkReason
    detail: str
    # The last seq_nr applied; `item` is the first event not applied.
    version: int
    item: JournalEvent


@dataclass(frozen=True, slots=True)
class ThreadPlan:
    thread_id: ThreadId
    stored_version: int
    verdicts: tuple[Verdict, ...]
    # Set when this batch parks the thread (not when it was parked before).
    park: Park | None = None

    @property
    def to_apply(self) -> tuple[Event, ...]:
        return tuple(v.event for v in self.verdicts if v.outcome is Outcome.APPLIED)

    @property
    def version(self) -> int:
        """The thread's version once the plan is applied."""
        applied = self.to_apply
        return applied[-1].seq_nr if applied else self.stored_version

    @property
    def skipped_by_park(self) -> tuple[Verdict, ...]:
        parked = (Outcome.GAP, Outcome.FAILED, Outcome.PARKED)
        return tuple(v for v in self.verdicts if v.outcome in parked)


def invalid_envelope(event: Event) -> str | None:
    """Why an event cannot be keyed in the read model at all (None: it can).

    The worker only appends events of validated commands, so this takes a corrupt or foreign
    journal record; such a record is dead-lettered rather than parked, since it may not even
    name its thread correctly.
    """
    for name in ("thread_id", "event_id", "command_id", "sender_id"):
        if not is_ulid(getattr(event, name)):
            return f"{name} is not a ULID"
    if event.seq_nr < 1:
        return f"seq_nr {event.seq_nr} is below 1"
    return None


def group_by_thread(items: Iterable[JournalEvent]) -> dict[ThreadId, list[JournalEvent]]:
    grouped: dict[ThreadId, list[JournalEvent]] = {}
    for item in items:
        grouped.setdefault(item.event.thread_id, []).append(item)
    return grouped


def lookup_keys(
    grouped: Mapping[ThreadId, Sequence[JournalEvent]], stored: Mapping[ThreadId, StoredThread]
) -> list[tuple[ThreadId, int]]:
    """The (thread_id, seq_nr) whose applied event ids the plan needs: those at or below the
    stored version (re-appends after a crash, or conflicts). Usually none."""
    keys: set[tuple[ThreadId, int]] = set()
    for thread_id, items in grouped.items():
        state = stored.get(thread_id, StoredThread())
        if state.parked:
            continue
        keys.update(
            (thread_id, item.event.seq_nr) for item in items if item.event.seq_nr <= state.version
        )
    return sorted(keys)


def plan_thread(
    thread_id: ThreadId,
    items: Sequence[JournalEvent],
    stored: StoredThread,
    applied: Mapping[int, AppliedEvent],
) -> ThreadPlan:
    version = stored.version
    parked = stored.parked
    known = dict(applied)
    verdicts: list[Verdict] = []
    park: Park | None = None
    for item in items:
        event = item.event
        if parked:
            verdicts.append(Verdict(item, Outcome.PARKED))
        elif event.seq_nr <= version:
            prior = known.get(event.seq_nr)
            if prior == AppliedEvent(event.event_id, event.command_id):
                verdicts.append(Verdict(item, Outcome.DUPLICATE))
            else:
                verdicts.append(Verdict(item, Outcome.CONFLICT, _conflict(event, prior), prior))
        elif event.seq_nr == version + 1 and (version > 0 or isinstance(event.body, ThreadCreated)):
            verdicts.append(Verdict(item, Outcome.APPLIED))
            version = event.seq_nr
            known[event.seq_nr] = AppliedEvent(event.event_id, event.command_id)
        else:
            if event.seq_nr == version + 1:
                reason = ParkReason.NO_THREAD_CREATED
                detail = f"the thread's first event is {event.name}, not ThreadCreated"
            else:
                reason = ParkReason.GAP
                detail = (
                    f"version jump: applied up to seq_nr {version}, next event has seq_nr "
                    f"{event.seq_nr} ({event.seq_nr - version - 1} missing)"
                )
            park = Park(thread_id, reason, detail, version, item)
            verdicts.append(Verdict(item, Outcome.GAP, detail))
            parked = True
    return ThreadPlan(thread_id, stored.version, tuple(verdicts), park)


def plan_batch(
    grouped: Mapping[ThreadId, Sequence[JournalEvent]],
    stored: Mapping[ThreadId, StoredThread],
    applied: Mapping[tuple[ThreadId, int], AppliedEvent],
) -> tuple[ThreadPlan, ...]:
    by_thread: dict[ThreadId, dict[int, AppliedEvent]] = {}
    for (thread_id, seq_nr), ids in applied.items():
        by_thread.setdefault(thread_id, {})[seq_nr] = ids
    return tuple(
        plan_thread(
            thread_id, items, stored.get(thread_id, StoredThread()), by_thread.get(thread_id, {})
        )
        for thread_id, items in grouped.items()
    )


def park_failed(plan: ThreadPlan, detail: str, at: int | None = None) -> ThreadPlan:
    """The plan once the database refused the event of verdict `at` (default: the first
    event to apply): the events before it stay applied, it parks the thread, and the rest of
    the batch is skipped."""
    applied = [i for i, v in enumerate(plan.verdicts) if v.outcome is Outcome.APPLIED]
    index = applied[0] if at is None and applied else at
    if index is None:
        return plan
    failed = plan.verdicts[index]
    assert failed.outcome is Outcome.APPLIED, failed
    verdicts = [
        *plan.verdicts[:index],
        dataclasses.replace(failed, outcome=Outcome.FAILED, detail=detail),
        *(Verdict(v.item, Outcome.PARKED) for v in plan.verdicts[index + 1 :]),
    ]
    version = failed.event.seq_nr - 1
    park = Park(plan.thread_id, ParkReason.APPLY_FAILED, detail, version, failed.item)
    return ThreadPlan(plan.thread_id, plan.stored_version, tuple(verdicts), park)


def only(plan: ThreadPlan, index: int) -> ThreadPlan:
    """The plan of verdict `index` alone (an event to apply), to try it on its own."""
    verdict = plan.verdicts[index]
    assert verdict.outcome is Outcome.APPLIED, verdict
    return ThreadPlan(plan.thread_id, verdict.event.seq_nr - 1, (verdict,))


def _conflict(event: Event, prior: AppliedEvent | None) -> str:
    if prior is None:
        return (
            f"seq_nr {event.seq_nr} is at or below the thread's version but the read model has "
            f"no record of the event applied there; this is event {event.event_id} "
            f"(command {event.command_id})"
        )
    return (
        f"seq_nr {event.seq_nr} was applied as event {prior.event_id} (command "
        f"{prior.command_id}); this is event {event.event_id} (command {event.command_id})"
    )
