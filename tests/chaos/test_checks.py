"""The chaos checks fail when the system breaks a guarantee (pure: hand-made evidence).

A check that passes on any evidence would make the chaos run worthless; each test here
breaks one thing the way a faulty system would and expects the check that guards it to
fail, and only that thing.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable

import pytest

from pipeline.codec import encode_event, encode_reply, encode_snapshot
from pipeline.codec.snapshot import ThreadSnapshot
from pipeline.domain import Accepted, Event, MemberIdsJoined, Thread, replay
from pipeline.kafka.records import Record
from pipeline.mirror.verify import JournalFold, compare_table
from pipeline.projector.fold import fold
from pipeline.projector.verify import VerifyReport
from pipeline.worker.handling import reply_for
from tests.chaos import checks
from tests.chaos.faults import WIPED_RESTART, FaultEvent
from tests.chaos.outcomes import Entry, Ledger, Outcome, difference
from tests.chaos.scenario import Planned, Scenario, ThreadCase
from tests.chaos.snapshots import CaughtUp

pytestmark = pytest.mark.unit


@dataclasses.dataclass
class Run:
    """A small all-Kafka run where the system did everything right."""

    ledger: Ledger
    case: ThreadCase
    events: list[Event]
    replies: dict[str, set[bytes]]

    def evidence(self, events: list[Event] | None = None) -> checks.Evidence:
        events = self.events if events is None else events
        journal = [
            (Record("journal", 0, i, e.thread_id.encode(), encode_event(e)), e)
            for i, e in enumerate(events)
        ]
        return checks.Evidence(
            journal=journal,
            replies=self.replies,
            reply_records=sum(len(v) for v in self.replies.values()),
            command_dead_letters=[],
            views=fold(events).views,
            mirror=compare_table(JournalFold(), [], {}),
            projector=VerifyReport(),
            snapshots=self.snapshots(events),
        )

    def snapshots(self, events: list[Event]) -> list[Record]:
        """What a worker writes: a round after every second event, and one at the end (the
        journal is partition 0 from offset 0, one event per offset)."""
        positions = [*range(2, len(events), 2), len(events)]
        return [
            snapshot_record(i, ThreadSnapshot(self.case.thread_id, 0, p, folded(events[:p])))
            for i, p in enumerate(positions)
        ]


def folded(events: list[Event]) -> Thread:
    state = replay(events)
    assert state is not None
    return state


def snapshot_record(offset: int, snapshot: ThreadSnapshot) -> Record:
    return Record(
        "snapshots",
        snapshot.journal_partition,
        offset,
        snapshot.thread_id.encode(),
        encode_snapshot(snapshot),
        timestamp_ms=1_000_000 + offset,
    )


def good_run() -> Run:
    scenario = Scenario(random.Random(3), http_share=0.0)
    case, created = scenario.create()
    ledger = Ledger()
    events: list[Event] = []
    replies: dict[str, set[bytes]] = {}
    builders: list[Callable[[ThreadCase], Planned | None]] = [
        scenario.post,
        scenario.join_member,
        scenario.stranger_post,
        scenario.post,
        scenario.remove_own,
        scenario.leave_self,
    ]
    planned: Planned | None = created
    for build in [None, *builders]:
        if build is not None:
            planned = build(case)
        assert planned is not None
        reply = reply_for(planned.command, planned.expected)
        ledger.record(Entry(planned, Outcome.of_reply(reply), 1, 0.0))
        replies[planned.command.command_id] = {encode_reply(reply)}
        if isinstance(planned.expected, Accepted):
            events.extend(planned.expected.events)
        scenario.acknowledged(case, planned)
    return Run(ledger, case, events, replies)


def all_checks(run: Run, evidence: checks.Evidence) -> dict[str, bool]:
    results = [
        checks.outcomes_agree(run.ledger),
        checks.effects_exactly_once(run.ledger, [run.case], evidence),
        checks.journal_gapless([run.case], evidence),
        checks.one_final_reply(run.ledger, evidence),
        checks.snapshots_match_journal(evidence),
    ]
    return {check.name: check.ok for check in results}


def failing(run: Run, evidence: checks.Evidence) -> set[str]:
    return {name for name, ok in all_checks(run, evidence).items() if not ok}


def test_a_correct_run_passes() -> None:
    run = good_run()
    assert not failing(run, run.evidence())
    assert any(e.outcome.status == "rejected" for e in run.ledger.entries)


def test_an_event_applied_twice_is_caught() -> None:
    run = good_run()
    post = next(e for e in run.events if e.name == "MessagesAdded")
    again = dataclasses.replace(post, seq_nr=len(run.events) + 1, event_id="again")
    assert failing(run, run.evidence([*run.events, again])) == {
        "acknowledged effects present exactly once"
    }


def test_a_different_event_at_a_taken_seq_nr_is_caught() -> None:
    run = good_run()
    first = run.events[1]
    rival = dataclasses.replace(first, body=MemberIdsJoined(("01ARZ3NDEKTSV4RRFFQ69G5FAV",)))
    assert "journal gapless per thread, one event per seq_nr" in failing(
        run, run.evidence([*run.events, rival])
    )


def test_a_lost_event_is_caught() -> None:
    run = good_run()
    lost = [e for e in run.events if e.seq_nr != 2]
    assert failing(run, run.evidence(lost)) >= {
        "journal gapless per thread, one event per seq_nr",
        "acknowledged effects present exactly once",
    }


def test_a_read_model_without_an_acknowledged_join_is_caught() -> None:
    run = good_run()
    evidence = run.evidence()
    view = evidence.views[run.case.thread_id]
    evidence.views[run.case.thread_id] = dataclasses.replace(view, members=view.members[:-1])
    assert failing(run, evidence) == {"acknowledged effects present exactly once"}


def test_missing_or_conflicting_replies_are_caught() -> None:
    run = good_run()
    first, second = (e.planned.command.command_id for e in run.ledger.entries[:2])
    evidence = run.evidence()
    evidence.replies.pop(first)
    evidence.replies[second] = {*evidence.replies[second], b"\x00another reply"}
    check = checks.one_final_reply(run.ledger, evidence)
    assert not check.ok
    assert len(check.problems) == 2


def test_an_answer_the_domain_would_not_give_is_a_divergence() -> None:
    run = good_run()
    entry = next(e for e in run.ledger.entries if e.outcome.status == "accepted")
    assert difference(entry.planned, entry.outcome) is None
    twice = dataclasses.replace(entry.outcome, version=(entry.outcome.version or 0) + 1)
    assert difference(entry.planned, twice) is not None
    rejected = Outcome("rejected", reason="SENDER_NOT_MEMBER")
    assert difference(entry.planned, rejected) is not None


SNAPSHOTS = "every snapshot = fold(journal) below its offset"


def with_last_snapshot(run: Run, snapshot: ThreadSnapshot) -> checks.Evidence:
    evidence = run.evidence()
    evidence.snapshots.append(snapshot_record(len(evidence.snapshots), snapshot))
    return evidence


def test_the_snapshots_of_a_correct_run_are_checked() -> None:
    run = good_run()
    check = checks.snapshots_match_journal(run.evidence())
    assert check.ok, check.problems
    assert check.figures["snapshots_checked"] == len(run.evidence().snapshots) > 2
    assert check.figures["threads_whose_last_snapshot_holds_their_last_event"] == 1


def test_a_snapshot_stamped_past_what_it_folded_is_caught() -> None:
    # The state of the first n - 1 events, claimed to hold every event below n.
    run = good_run()
    n = len(run.events)
    behind = ThreadSnapshot(run.case.thread_id, 0, n, folded(run.events[: n - 1]))
    assert failing(run, with_last_snapshot(run, behind)) == {SNAPSHOTS}
    check = checks.snapshots_match_journal(with_last_snapshot(run, behind))
    assert any(f"version {n - 1} != {n}" in p for p in check.problems)


def test_a_snapshot_missing_a_member_or_a_message_is_caught() -> None:
    run = good_run()
    n = len(run.events)
    state = folded(run.events)
    member = sorted(state.member_ids)[0]
    lost_member = dataclasses.replace(state, member_ids=state.member_ids - {member})
    first_message = next(iter(state.messages))
    lost_message = dataclasses.replace(
        state, messages={m: s for m, s in state.messages.items() if m != first_message}
    )
    wrong_admins = dataclasses.replace(state, administrator_ids=state.administrator_ids | {member})
    for wrong in (lost_member, lost_message, wrong_admins):
        snapshot = ThreadSnapshot(run.case.thread_id, 0, n, wrong)
        assert failing(run, with_last_snapshot(run, snapshot)) == {SNAPSHOTS}


def test_a_snapshot_in_another_partition_or_going_back_is_caught() -> None:
    run = good_run()
    n = len(run.events)
    elsewhere = ThreadSnapshot(run.case.thread_id, 1, n, folded(run.events))
    evidence = run.evidence()
    evidence.snapshots.append(dataclasses.replace(snapshot_record(99, elsewhere), partition=1))
    assert failing(run, evidence) == {SNAPSHOTS}
    back = ThreadSnapshot(run.case.thread_id, 0, 2, folded(run.events[:2]))
    assert failing(run, with_last_snapshot(run, back)) == {SNAPSHOTS}


def kill(wall_s: float) -> FaultEvent:
    return FaultEvent(10.0, "worker-1", "SIGKILL", 1, 100, True, wall_s=wall_s)


def wiped_restart() -> FaultEvent:
    return FaultEvent(11.0, "worker-1", WIPED_RESTART, 2, 100, True, log_offset=0)


def test_snapshots_exercised_needs_rounds_kills_among_them_and_a_restore() -> None:
    run = good_run()
    evidence = run.evidence()
    last_round_s = max(r.timestamp_ms for r in evidence.snapshots) / 1000
    restored = [CaughtUp(0, 3, 6, 9, 1, 6), CaughtUp(1, 5, 0, 5, 0, None)]
    evidence.wiped_restarts = {"worker-1 at 11.0 s": restored}
    events = [kill(last_round_s + 0.5), wiped_restart()]
    check = checks.snapshots_exercised(events, evidence)
    assert check.ok, check.problems
    assert check.figures["threads_restored_after_the_wipe"] == 1

    no_rounds = dataclasses.replace(evidence, snapshots=[])
    assert not checks.snapshots_exercised(events, no_rounds).ok
    late_kill = [kill(last_round_s + 60), wiped_restart()]
    assert not checks.snapshots_exercised(late_kill, evidence).ok
    nothing_restored = dataclasses.replace(
        evidence, wiped_restarts={"worker-1 at 11.0 s": [CaughtUp(0, 9, 0, 9, 0, None)]}
    )
    assert not checks.snapshots_exercised(events, nothing_restored).ok
    unread = dataclasses.replace(evidence, wiped_restarts={})
    assert not checks.snapshots_exercised(events, unread).ok
