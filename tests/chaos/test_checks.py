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

from pipeline.codec import encode_event, encode_reply
from pipeline.domain import Accepted, Event, MemberIdsJoined
from pipeline.kafka.records import Record
from pipeline.mirror.verify import JournalFold, compare_table
from pipeline.projector.fold import fold
from pipeline.projector.verify import VerifyReport
from pipeline.worker.handling import reply_for
from tests.chaos import checks
from tests.chaos.outcomes import Entry, Ledger, Outcome, difference
from tests.chaos.scenario import Planned, Scenario, ThreadCase

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
