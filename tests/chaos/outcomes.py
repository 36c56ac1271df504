"""What a client was told about a command, on either transport, and whether it is what the
domain says it must be."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

from pipeline.domain import Accepted, AddMessages, RemoveMessages
from pipeline.kafka.replies import CommandAccepted, Reply
from tests.chaos.scenario import Garbage, Planned

Status = Literal["accepted", "rejected", "refused"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """The final answer: accepted, rejected by the domain, or refused by the API before Kafka
    (authentication). `message_ids`/`event_ids` are None where the transport does not tell."""

    status: Status
    reason: str | None = None
    version: int | None = None
    thread_id: str | None = None
    message_ids: tuple[str, ...] | None = None
    event_ids: tuple[str, ...] | None = None

    @staticmethod
    def of_reply(reply: Reply) -> Outcome:
        if isinstance(reply, CommandAccepted):
            return Outcome(
                "accepted",
                version=reply.version,
                thread_id=reply.thread_id,
                message_ids=reply.message_ids,
                event_ids=reply.event_ids,
            )
        return Outcome("rejected", reason=reply.reason.value, thread_id=reply.thread_id)


def expected_outcome(planned: Planned) -> Outcome:
    if planned.intrusion is not None:
        return Outcome("refused", reason=planned.intrusion.value)
    if planned.refused_at_edge:
        return Outcome("rejected", reason="INVALID_COMMAND")
    decision = planned.expected
    if isinstance(decision, Accepted):
        reports_messages = isinstance(planned.command.body, AddMessages | RemoveMessages)
        return Outcome(
            "accepted",
            version=decision.version,
            thread_id=planned.command.thread_id,
            message_ids=decision.message_ids if reports_messages else (),
        )
    return Outcome("rejected", reason=decision.reason.value)


def difference(planned: Planned, got: Outcome) -> str | None:
    """How `got` differs from what the domain decides; None when it agrees."""
    want = expected_outcome(planned)
    problems = []
    if (got.status, got.reason) != (want.status, want.reason):
        problems.append(
            f"{got.status} {got.reason or ''} instead of {want.status} {want.reason or ''}"
        )
    elif got.status == "accepted":
        if got.version != want.version:
            problems.append(f"version {got.version} instead of {want.version}")
        if got.thread_id is not None and got.thread_id != want.thread_id:
            problems.append(f"thread {got.thread_id} instead of {want.thread_id}")
        if got.message_ids is not None and tuple(got.message_ids) != want.message_ids:
            problems.append(f"message ids {got.message_ids} instead of {want.message_ids}")
    if not problems:
        return None
    return f"{planned.kind} {planned.command.command_id} via {planned.transport}: " + "; ".join(
        problems
    )


@dataclass(frozen=True, slots=True)
class Entry:
    planned: Planned
    outcome: Outcome
    attempts: int
    # Monotonic seconds since the run started, when the final answer arrived.
    answered_at: float


@dataclass(frozen=True, slots=True)
class Probe:
    """A read-your-writes query after an accepted command of version `version`."""

    thread_id: str
    version: int
    result: Literal["fresh", "stale", "unavailable", "violation"]
    detail: str = ""


@dataclass
class Ledger:
    """Every acknowledged outcome of the run, in the order the answers arrived."""

    entries: list[Entry] = field(default_factory=list)
    garbage: list[Garbage] = field(default_factory=list)
    probes: list[Probe] = field(default_factory=list)
    # Outcomes that differed from the domain's decision (first per thread).
    divergences: list[str] = field(default_factory=list)

    def record(self, entry: Entry) -> None:
        self.entries.append(entry)

    @property
    def acknowledged(self) -> int:
        return len(self.entries) + len(self.garbage)

    def by_command_id(self) -> dict[str, Entry]:
        return {entry.planned.command.command_id: entry for entry in self.entries}

    def retries(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for entry in self.entries:
            counts[entry.planned.transport] += entry.attempts - 1
        return counts

    def summary(self) -> dict[str, object]:
        by_transport: Counter[str] = Counter()
        by_status: Counter[str] = Counter()
        by_kind: Counter[str] = Counter()
        reasons: Counter[str] = Counter()
        for entry in self.entries:
            by_transport[entry.planned.transport] += 1
            by_status[entry.outcome.status] += 1
            by_kind[entry.planned.kind] += 1
            if entry.outcome.reason is not None:
                reasons[entry.outcome.reason] += 1
        probes: Counter[str] = Counter(probe.result for probe in self.probes)
        return {
            "commands": len(self.entries) + len(self.garbage),
            "by_transport": dict(by_transport),
            "by_status": dict(by_status),
            "garbage_records": len(self.garbage),
            "by_kind": dict(sorted(by_kind.items())),
            "reasons": dict(sorted(reasons.items())),
            "retries": dict(self.retries()),
            "read_your_writes_probes": dict(probes),
        }
